"""The Faust topology on the real broker: simulated Genesys events in, Avro feed records out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid, format_instant
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.worker import WorkerRun

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(agents=25, hours=1.5, seed=8, reorder_ms=30_000, duplicate_rate=0.03)
DIMENSIONS = [{"queue_id": qid, "media_type": q.media_type} for qid, q in queue_directory(SPEC).items()]
PROFILES: list[dict[str, Any]] = [
    {"id": "wfm-utc-15", "version": 1, "cadence": "PT15M", "time_zone": "UTC", "dimensions": DIMENSIONS},
    {
        "id": "kolkata-30",
        "version": 1,
        "cadence": "PT30M",
        "time_zone": "Asia/Kolkata",
        "dimensions": DIMENSIONS,
    },
]
TICK_MS = SPEC.end_ms + 2 * 3_600_000


@pytest.fixture
def run(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerRun]:
    worker = WorkerRun(
        kafka_bootstrap, tmp_path, PROFILES, feed_start=format_instant(SPEC.start_ms - 3_600_000)
    )
    yield worker
    worker.cleanup()


def expected(profile: dict[str, Any], lines: list[bytes]) -> dict[int, dict[tuple[str, str], object]]:
    grid = IntervalGrid(Granularity.parse(profile["cadence"]), profile["time_zone"])
    aggregator, _ = compute(lines, grid, KpiConfig(), 2**62)
    out: dict[int, dict[tuple[str, str], object]] = {}
    for (queue, media, start), acc in aggregator.cells.items():
        out.setdefault(start, {})[(queue, media)] = acc.snapshot()
    return out


def cells(record: FeedRecord) -> dict[tuple[str, str], object]:
    return {
        (row.queue_id, row.media_type): {m.metric: (m.count, m.sum, m.min, m.max) for m in row.metrics}
        for row in record.rows
        if row.metrics
    }


def covered(records: list[FeedRecord]) -> bool:
    """Every profile has reached the last interval the final tick makes final."""
    for profile in PROFILES:
        grid = IntervalGrid(Granularity.parse(profile["cadence"]), profile["time_zone"])
        last = grid.start_of(TICK_MS - 60_000 - 16 * 60_000) - grid.length_ms
        if not any(r.profile_id == profile["id"] and r.interval_start_ms >= last for r in records):
            return False
    return True


def test_a_simulated_day_yields_records_equal_to_compute_for_each_profile(run: WorkerRun) -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    run.start()
    run.produce_events(lines)
    run.wait_keyed(len(lines))
    run.tick(TICK_MS)
    records = run.read_records(covered)
    for profile in PROFILES:
        mine = [r for r in records if r.profile_id == profile["id"]]
        got = {r.interval_start_ms: cells(r) for r in mine}
        assert {start: c for start, c in got.items() if c} == expected(profile, lines)
        assert all(r.revision == 1 for r in mine)
        assert all(len(r.rows) == len(DIMENSIONS) for r in mine), "zero rows for quiet queues"
        starts = [r.interval_start_ms for r in mine]
        assert starts == sorted(set(starts)), "one record per interval, in order"
