"""What provisional updates cost the worker: reading a keyed partition's open cells (the timer's
work, every ``worker.open_cells_every_s``), their size on the partials topic, and the assembler's
``ProvisionalBoard.due`` (after each batch), over a simulated day of 500 agents run through the
stage code in-process (4 partitions, ingest batches of 2,000 events; the open cells are read and
the board asked after every batch, far more often than the worker's timer does).

Run: ``python -m bench.provisional_cost [--agents N] [--hours H]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.report import emit
from streamvane.feeds.profile import FeedProfile, ProvisionalSpec
from streamvane.genesys.parse import EventParser
from streamvane.kpi.config import KpiConfig
from streamvane.records.partial import Partial
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.stages import outbox
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.correlate import PartitionProcessor, ProcessorConfig, bundle_items
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.stages.open_cells import open_cells
from streamvane.stages.plan import base_grid, closing_policy
from streamvane.stages.provisional import ProvisionalBoard
from streamvane.stages.store import DictStore

PARTITIONS = 4
BATCH = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--hours", type=float, default=8.0)
    args = parser.parse_args()
    spec = SimulationSpec(agents=args.agents, hours=args.hours, seed=7)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    kpi, base = KpiConfig(), base_grid()
    profile = FeedProfile(id="live", version=1, provisional=ProvisionalSpec(every_ms=300_000))
    start = base.start_of(spec.start_ms - 3_600_000)
    stores = [DictStore() for _ in range(PARTITIONS)]
    closing = closing_policy((profile,))
    processors = [
        PartitionProcessor(ProcessorConfig(kpi, base, closing, start, 60_000, p), stores[p])
        for p in range(PARTITIONS)
    ]
    config = AssemblerConfig((profile,), kpi, base, PARTITIONS, start)
    assembler_store = DictStore()
    board = ProvisionalBoard(config)
    ingest = IngestStage(EventParser(), PARTITIONS, InputProgress(1, kpi.reorder_tolerance_ms), "events")
    offsets = [0] * PARTITIONS
    lookback = profile.grid().granularity.ms + profile.correction_horizon_ms
    correlate_s, read_s, due_s, sizes, updates = 0.0, [], [], [], 0
    for n in range(0, len(lines), BATCH):
        records = [SourceRecord(raw, None, 0, n + i, None) for i, raw in enumerate(lines[n : n + BATCH])]
        t0 = time.perf_counter()
        items = bundle_items(ingest.process(records, now_ms=2**62).bundles, offsets)
        partials: list[Partial] = []
        for p in range(PARTITIONS):
            processors[p].process(items.get(p, []))
            partials += [
                Partial.decode(o.value) for o in outbox.pending(stores[p]) if o.destination == outbox.PARTIALS
            ]
            outbox.clear(stores[p])
        Assembler(config, assembler_store).accept_batch(partials)
        outbox.clear(assembler_store)
        correlate_s += time.perf_counter() - t0
        for p in range(PARTITIONS):
            t1 = time.perf_counter()
            cells = open_cells(stores[p], p, base, lookback)
            encoded = cells.encode()
            read_s.append(time.perf_counter() - t1)
            sizes.append(len(encoded))
            board.observe(cells)
        t2 = time.perf_counter()
        updates += len(board.due(assembler_store))
        due_s.append(time.perf_counter() - t2)
    batches = len(due_s)
    rows = [
        {
            "step": "correlate + assemble (per batch of 2,000 events)",
            "median_ms": round(correlate_s / batches * 1000, 2),
            "p99_ms": "",
        },
        {
            "step": "open cells read + encoded (per partition)",
            "median_ms": round(statistics.median(read_s) * 1000, 3),
            "p99_ms": round(sorted(read_s)[int(0.99 * len(read_s))] * 1000, 3),
        },
        {
            "step": "ProvisionalBoard.due (per batch)",
            "median_ms": round(statistics.median(due_s) * 1000, 3),
            "p99_ms": round(sorted(due_s)[int(0.99 * len(due_s))] * 1000, 3),
        },
    ]
    emit(
        "provisional_cost",
        rows,
        {
            "events": len(lines),
            "agents": args.agents,
            "hours": args.hours,
            "open_cells_bytes_median": statistics.median(sizes),
            "open_cells_bytes_max": max(sizes),
            "updates": updates,
        },
    )


if __name__ == "__main__":
    main()
