"""State kept for exact KPIs under real delivery: how large it gets for a whole simulated day.

De-duplication over EventBridge's 24-hour retry window and pairing that waits for late partners
keep every session of a conversation for 26 hours. This measures what that costs for a day of
N agents (issue 9 asks for 5,000 agents × 24 h), streaming the events from a file written by
``streamvane simulate`` so the input is never held in memory:

* **worker state**: the bytes the correlate stage keeps in its table (conversation state, cells,
  dimensions, deadline index) at the end of the day, before RocksDB's compression, per key kind;
  run through the stage code itself (:class:`PartitionProcessor`, 4 partitions, batches of 2,000,
  each followed by ingest's watermark marker);
* **offline compute**: events/s and the peak RSS of ``compute`` over the same file, in-process.

Run: ``python -m bench.state_size --events FILE`` (make one with
``streamvane simulate --agents 5000 --hours 24 --out FILE``).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from pathlib import Path

from bench.report import emit
from streamvane.feeds.profile import FeedProfile
from streamvane.genesys.events import ConversationEvent
from streamvane.genesys.lines import read_lines
from streamvane.genesys.parse import EventParser
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.stages.correlate import PartitionProcessor, ProcessorConfig, bundle_items
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.stages.outbox import clear
from streamvane.stages.plan import base_grid, closing_policy
from streamvane.stages.store import DictStore

PARTITIONS = 4
BATCH = 2_000
KINDS = {
    "c": "conversations",
    "k": "cells",
    "i": "dimensions",
    "d": "deadline index",
    "r": "revisions",
    "m": "meta",
}


def worker_state(events: Path, kpi: KpiConfig) -> tuple[int, dict[str, tuple[int, int]], float]:
    """Events, then (keys, bytes) per key kind of every partition's store at the end, and events/s."""
    stores = [DictStore() for _ in range(PARTITIONS)]
    base = base_grid()
    closing = closing_policy((FeedProfile(id="p", version=1, cadence="PT15M", time_zone="UTC"),))
    with events.open("rb") as stream:
        first = EventParser().parse(stream.readline().rstrip(b"\n"), 2**62)
    assert isinstance(first, ConversationEvent), first
    start = base.start_of(first.event_time_ms - 3_600_000)
    processors = [
        PartitionProcessor(ProcessorConfig(kpi, base, closing, start, 60_000, p), stores[p])
        for p in range(PARTITIONS)
    ]
    ingest = IngestStage(EventParser(), PARTITIONS, InputProgress(1, kpi.reorder_tolerance_ms), "events")
    offsets = [0] * PARTITIONS
    count = 0
    started = time.perf_counter()
    batch: list[SourceRecord] = []

    def run() -> None:
        """An ingest batch: its bundles (the marker last) into every partition, then correlate."""
        items = bundle_items(ingest.process(batch, now_ms=2**62).bundles, offsets)
        for p in range(PARTITIONS):
            processors[p].process(items.get(p, []))
            clear(stores[p])
        batch.clear()

    with events.open("rb") as stream:
        for line in read_lines(stream, 1 << 20):
            assert isinstance(line, bytes)
            batch.append(SourceRecord(line, None, 0, count, None))
            count += 1
            if count % BATCH == 0:
                run()
    run()
    rate = count / (time.perf_counter() - started)
    sizes: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for store in stores:
        for key, value in store.data.items():
            kind = KINDS.get(key.split("|", 1)[0], "other")
            keys[kind] += 1
            sizes[kind] += len(key) + len(value)
    return count, {kind: (keys[kind], sizes[kind]) for kind in sorted(keys)}, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=Path, required=True, help="JSON lines from `streamvane simulate`")
    args = parser.parse_args()
    kpi = KpiConfig()

    started = time.perf_counter()
    with args.events.open("rb") as stream:
        aggregator, report = compute(read_lines(stream, 1 << 20), IntervalGrid(Granularity.PT15M), kpi, 2**62)
    compute_s = time.perf_counter() - started
    compute_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    count, kinds, stage_rate = worker_state(args.events, kpi)
    rows = [{"state": kind, "keys": n, "MB": size / 1e6} for kind, (n, size) in kinds.items()]
    total = sum(size for _, size in kinds.values())
    rows.append({"state": "total", "keys": sum(n for n, _ in kinds.values()), "MB": total / 1e6})
    emit(
        "state_size",
        rows,
        {
            "events": count,
            "events_file": args.events.name,
            "worker_state_bytes_per_event": total / count,
            "stage_events_per_s_in_process": stage_rate,
            "compute_events_per_s": report.events / compute_s,
            "compute_peak_rss_mb": compute_rss_mb,
            "compute_cells": len(aggregator.cells),
            "duplicates": report.correlation.duplicates,
        },
    )


if __name__ == "__main__":
    main()
