"""Events/s of one `streamvane worker` process on a backlog, against the raw consume rate of the
same topic and the in-process core, in one run, on the local broker (issue 10).

Rows:

* **raw consume** — a bare confluent-kafka batch consumer reading the input topic to its end;
* **core, in process** — the stages the worker runs (ingest's parse and bundling, correlate on
  in-memory stores) over the same events, no Kafka;
* **worker, end to end** — the events already in a 4-partition input topic, the worker started:
  from its "Ready" line until its own metrics say every event was applied by correlate (raw
  topic → bundles → correlated state → partials), with the CPU µs per event of the worker
  process (user + system, from ``/proc``).

Targets: the worker ≥ 25,000 events/s and ≥ 20 % of the core rate.

``--day-events FILE`` (from ``streamvane simulate --agents 5000 --hours 24``) adds the day
replayed by offset reset: the day sits in the input, a worker of a fresh app id reads it from
the start (what ``--reset-offsets --to-earliest`` does to a group), closed by
``close-backfill``; reported: wall time to the last feed record, and the revisions per interval.

Run: ``make bench`` or ``python -m bench.worker_throughput [--agents N --hours H] [--day-events FILE]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer

from bench.report import emit
from streamvane.commands.processes import free_port
from streamvane.genesys.events import ConversationEvent
from streamvane.genesys.lines import read_lines
from streamvane.genesys.parse import EventParser
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import format_instant
from streamvane.settings import Settings
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.stages import outbox
from streamvane.stages.correlate import PartitionProcessor, ProcessorConfig, TickItem, bundle_items
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.stages.plan import base_grid, closing_policy
from streamvane.stages.store import DictStore
from tests.support import kafka
from tests.support.worker import WorkerRun

TARGET = 25_000
TARGET_SHARE_OF_CORE = 0.20
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def raw_rate(bootstrap: str, topic: str, expected: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        seen, started = 0, time.perf_counter()
        while seen < expected:
            seen += sum(1 for m in consumer.consume(10_000, 1.0) if not m.error())
        return expected / (time.perf_counter() - started)
    finally:
        consumer.close()


def core_rate(lines: list[bytes], partitions: int, start_ms: int, tick_ms: int, batch: int = 5000) -> float:
    """Ingest + correlate stages on dict stores, batched as the worker batches."""
    kpi = KpiConfig()
    base = base_grid()
    closing = closing_policy(())
    ingest = IngestStage(EventParser(), partitions, InputProgress(1, kpi.reorder_tolerance_ms), "events")
    stores = [DictStore() for _ in range(partitions)]
    processors = [
        PartitionProcessor(ProcessorConfig(kpi, base, closing, start_ms, 60_000, p), stores[p])
        for p in range(partitions)
    ]
    offsets = [0] * partitions
    started = time.perf_counter()
    for first in range(0, len(lines), batch):
        records = [
            SourceRecord(raw, None, 0, first + i, None) for i, raw in enumerate(lines[first : first + batch])
        ]
        items = bundle_items(ingest.process(records, now_ms=2**62).bundles, offsets)
        for p in range(partitions):
            processors[p].process(items.get(p, []))
            outbox.clear(stores[p])
    for p in range(partitions):
        processors[p].process([TickItem(tick_ms)])
    return len(lines) / (time.perf_counter() - started)


def metric(port: int, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def worker_run(run: WorkerRun, expected_applied: int, timeout_s: float) -> tuple[float, float, float]:
    """(events/s from Ready to the last event applied, CPU µs per event, seconds to Ready)."""
    port = free_port()
    run.env["STREAMVANE_WORKER__METRICS_PORT"] = str(port)
    launched = time.perf_counter()
    run.start()
    run.wait_ready(timeout=300)
    assert run.proc is not None
    ready = time.perf_counter()
    applied_at_ready = metric(port, "streamvane_events_applied_total")
    cpu_at_ready = cpu_s(run.proc.pid)
    while (applied := metric(port, "streamvane_events_applied_total")) < expected_applied:
        run.assert_alive()
        if time.perf_counter() - ready > timeout_s:
            raise AssertionError(f"applied {applied} of {expected_applied} in {timeout_s} s")
        time.sleep(0.1)
    elapsed = time.perf_counter() - ready
    events = applied - applied_at_ready
    cpu = cpu_s(run.proc.pid) - cpu_at_ready
    return events / elapsed, cpu / events * 1e6, ready - launched


def valid_count(lines: list[bytes]) -> int:
    parser = EventParser()
    return sum(1 for line in lines if isinstance(parser.parse(line, 2**62), ConversationEvent))


def day_replay(bootstrap: str, events: Path, partitions: int) -> dict[str, object]:
    with events.open("rb") as stream:
        lines = [line for line in read_lines(stream, 1 << 20) if isinstance(line, bytes)]
    first_ms = int(lines[0].split(b'"eventTime":', 1)[1].split(b",", 1)[0])
    last_ms = max(int(line.split(b'"eventTime":', 1)[1].split(b",", 1)[0]) for line in lines[-1000:])
    profile = {"id": "wfm-utc-15", "version": 1, "cadence": "PT15M", "time_zone": "UTC"}
    with tempfile.TemporaryDirectory() as tmp:
        run = WorkerRun(
            bootstrap,
            Path(tmp),
            [profile],
            feed_start=format_instant(first_ms - 3_600_000),
            partitions=partitions,
        )
        try:
            produced = time.perf_counter()
            run.produce_events(lines, input_partitions=partitions)
            produce_s = time.perf_counter() - produced
            count = len(lines)
            del lines
            started = time.perf_counter()
            run.start()
            run.wait_ready(timeout=300)
            run.wait_ingested(timeout=3600)
            end_ms = last_ms + 2 * 3_600_000
            run.close_backfill(end_ms)
            last_start = ((last_ms // 900_000) - 1) * 900_000
            records = run.read_records(
                lambda rs: any(r.interval_start_ms >= last_start for r in rs), timeout=3600
            )
            wall = time.perf_counter() - started
        finally:
            run.cleanup()
    revisions = Counter(r.interval_start_ms for r in records)
    return {
        "day_events": count,
        "day_produce_s": produce_s,
        "day_replay_wall_s": wall,
        "day_replay_events_per_s": count / wall,
        "day_intervals": len(revisions),
        "day_max_revisions_per_interval": max(revisions.values()),
        "day_target_wall_s": 300,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--day-events", type=Path)
    args = parser.parse_args()
    spec = SimulationSpec(agents=args.agents, hours=args.hours, seed=7)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    bootstrap = kafka.default_bootstrap()
    dims = [{"queue_id": q, "media_type": s.media_type} for q, s in queue_directory(spec).items()]
    profiles = [{"id": "bench-15", "version": 1, "cadence": "PT15M", "dimensions": dims}]
    feed_start = format_instant(spec.start_ms - 3_600_000)
    core = core_rate(lines, args.partitions, spec.start_ms - 3_600_000, spec.end_ms + 2 * 3_600_000)
    with tempfile.TemporaryDirectory() as tmp:
        run = WorkerRun(bootstrap, Path(tmp), profiles, feed_start=feed_start, partitions=args.partitions)
        try:
            run.produce_events(lines, input_partitions=args.partitions)
            raw = raw_rate(bootstrap, run.topics["events"], len(lines))
            worker, cpu_us, to_ready = worker_run(run, valid_count(lines), timeout_s=1800)
        finally:
            run.cleanup()
    worker_settings = Settings().worker  # what the worker runs with: defaults, or STREAMVANE_ overrides
    extra: dict[str, object] = {
        "events": len(lines),
        "ingest_batch_size": worker_settings.ingest_batch_size,
        "bundles_per_batch": worker_settings.bundles_per_batch,
        "input_partitions": args.partitions,
        "worker_seconds_to_ready": to_ready,
        "worker_cpu_us_per_event": cpu_us,
        "worker_share_of_core": worker / core,
        "target_events_per_s": TARGET,
        "target_share_of_core": TARGET_SHARE_OF_CORE,
        "target_met": worker >= TARGET and worker / core >= TARGET_SHARE_OF_CORE,
    }
    if args.day_events is not None:
        extra |= day_replay(bootstrap, args.day_events, args.partitions)
    rows = [
        {"what": "raw consume (confluent-kafka batch consumer)", "events_per_s": raw},
        {"what": "core, in process (ingest + correlate stages)", "events_per_s": core},
        {"what": "worker, end to end (raw topic -> applied, partials)", "events_per_s": worker},
    ]
    emit("worker_throughput", rows, extra)


if __name__ == "__main__":
    main()
