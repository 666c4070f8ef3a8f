"""Provisional updates, end to end on dict stores: a simulated hour delivered in slices, each
slice followed by what the worker's timers do (every partition's open cells to the assembler's
board, then the updates due). Updates come each ``every_ms`` of event time while an interval is
open, stop at its final, and the final is exactly what the profile without updates emits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from streamvane.feeds.profile import Dimension, FeedProfile, ProvisionalSpec
from streamvane.records.feed_record import FeedRecord
from streamvane.records.open_cells import OpenCells
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.stages.open_cells import open_cells
from streamvane.stages.provisional import ProvisionalBoard
from tests.support.genesys import at
from tests.support.pipeline import BASE, Pipeline

SPEC = SimulationSpec(agents=20, hours=1.5, seed=5, reorder_ms=20_000, duplicate_rate=0.03)
DIMENSIONS = tuple(Dimension(queue_id=q, media_type=d.media_type) for q, d in queue_directory(SPEC).items())
FINALS_ONLY = FeedProfile(
    id="wfm",
    version=1,
    cadence="PT15M",
    grace_ms=960_000,
    correction_horizon_ms=3_600_000,
    dimensions=DIMENSIONS,
)
WITH_UPDATES = FINALS_ONLY.model_copy(update={"provisional": ProvisionalSpec(every_ms=300_000)})


@dataclass(frozen=True)
class Seen:
    kind: str  # "update" or "final"
    record: FeedRecord


def run(profile: FeedProfile, slices: int = 40) -> tuple[Pipeline, list[Seen]]:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    pipeline = Pipeline((profile,), start_ms=SPEC.start_ms)
    board = ProvisionalBoard(pipeline.assembler.config)
    seen: list[Seen] = []
    size = len(lines) // slices + 1
    for n in range(0, len(lines), size):
        before = len(pipeline.records)
        pipeline.feed(lines[n : n + size])
        seen += [Seen("final", r) for r in pipeline.records[before:]]
        for partition, store in enumerate(pipeline.stores):
            board.observe(open_cells(store, partition, BASE, lookback_ms=3 * 3_600_000))
        seen += [Seen("update", r) for r in board.due(pipeline.assembler_store)]
    before = len(pipeline.records)
    pipeline.feed([], tick_ms=SPEC.end_ms + 6 * 3_600_000)
    seen += [Seen("final", r) for r in pipeline.records[before:]]
    return pipeline, seen


def test_updates_come_every_five_minutes_of_event_time_then_the_final_and_nothing_after() -> None:
    _, seen = run(WITH_UPDATES)
    finals = [s.record for s in seen if s.kind == "final" and s.record.revision == 1]
    assert len(finals) >= 5
    for final in finals:
        start = final.interval_start_ms
        story = [s for s in seen if s.record.interval_start_ms == start]
        kinds = [s.kind for s in story]
        first_final = kinds.index("final")
        assert "update" not in kinds[first_final:], "no update after the final (restatements may follow)"
        numbers = [s.record.provisional for s in story if s.kind == "update"]
        assert numbers == sorted(set(numbers)) and all(n >= 1 for n in numbers)
        for update in (s.record for s in story if s.kind == "update"):
            assert update.revision == 1 and update.watermark_ms == start + update.provisional * 300_000
            assert update.idempotency_key != final.idempotency_key
    interior = [f for f in finals if f.interval_end_ms <= SPEC.end_ms]
    assert len(interior) == 6 and all(
        any(s.kind == "update" and s.record.interval_start_ms == f.interval_start_ms for s in seen)
        for f in interior
    ), "an interval the simulation runs through gets updates before its final"


def test_updates_only_grow_and_the_last_one_before_the_final_shows_its_numbers() -> None:
    """Counts only grow while an interval fills; the last update, 15 minutes after the interval's
    end (a minute before its 16-minute grace runs out), carries the final's queue numbers (a
    handle still in wrap-up then may end in the last minute: it counts in the final)."""
    _, seen = run(WITH_UPDATES)
    checked = 0
    for final in (s.record for s in seen if s.kind == "final" and s.record.revision == 1):
        updates = [
            s.record
            for s in seen
            if s.kind == "update" and s.record.interval_start_ms == final.interval_start_ms
        ]
        offered = [cells_total(u, "nOffered") for u in updates]
        assert offered == sorted(offered) and all(o <= cells_total(final, "nOffered") for o in offered)
        if updates and updates[-1].watermark_ms == final.interval_end_ms + 900_000:
            assert queue_numbers(updates[-1]) == queue_numbers(final)
            checked += 1
    assert checked >= 3


def test_the_finals_are_exactly_those_of_the_profile_without_updates() -> None:
    with_updates, _ = run(WITH_UPDATES)
    finals_only, _ = run(FINALS_ONLY)
    assert with_updates.records == finals_only.records
    assert with_updates.finals_marked == [
        r.compaction_key for r in with_updates.records if r.revision == 1
    ], "a marker for each first emission"
    assert finals_only.finals_marked == [], "no marker without provisional updates"


def test_no_update_before_every_partition_reported_and_each_update_once() -> None:
    pipeline = Pipeline((WITH_UPDATES,), start_ms=at("10:00"), partitions=2)
    board = ProvisionalBoard(pipeline.assembler.config)
    board.observe(OpenCells(0, at("10:11"), {at("10:00"): {("q", "voice"): {"nOffered": (3, 3, 1, 1)}}}))
    assert board.due(pipeline.assembler_store) == [], "partition 1 has not reported"
    board.observe(OpenCells(1, None, {}))
    [update] = board.due(pipeline.assembler_store)
    assert (update.interval_start_ms, update.provisional, update.event_count) == (at("10:00"), 2, 3)
    assert board.due(pipeline.assembler_store) == [], "update 2 was sent"
    board.observe(OpenCells(1, at("10:14"), {at("10:00"): {("q", "voice"): {"nOffered": (1, 1, 1, 1)}}}))
    assert board.due(pipeline.assembler_store) == [], "update 3 is due at 10:15"
    board.observe(OpenCells(0, at("10:15"), {}))
    [third] = board.due(pipeline.assembler_store)
    assert (third.provisional, third.event_count) == (3, 4), "a partition's cells stay until replaced"


def queue_numbers(record: FeedRecord) -> dict[tuple[str, str], dict[str, tuple[int, int, int, int]]]:
    queue_metrics = {"nOffered", "tAnswered", "tAbandon", "tWait", "oServiceLevel"}
    return {
        (row.queue_id, row.media_type): {
            m.metric: (m.count, m.sum, m.min, m.max) for m in row.metrics if m.metric in queue_metrics
        }
        for row in record.rows
    }


def cells_total(record: FeedRecord, metric: str) -> int:
    return sum(m.count for row in record.rows for m in row.metrics if m.metric == metric)


def test_a_profile_whose_updates_could_not_come_before_its_final_is_refused() -> None:
    with pytest.raises(ValueError, match="no update comes before the final"):
        FeedProfile.model_validate(
            {**FINALS_ONLY.model_dump(), "grace_ms": 0, "provisional": {"every_ms": 900_000}}
        )
    with pytest.raises(ValueError, match="has no place to mark an update"):
        FeedProfile.model_validate(
            {
                "id": "legacy",
                "version": 1,
                "provisional": {"every_ms": 300_000},
                "payload": {
                    "format": "csv",
                    "schema_version": "1",
                    "text": {"columns": [{"header": "Queue", "value": "queue_id"}]},
                },
            }
        )


def test_no_update_while_the_event_clock_lags_the_wall_clock_by_more_than_the_limit() -> None:
    """A backlog being caught up, or history recomputed: its intervals get their finals only."""
    pipeline = Pipeline((WITH_UPDATES,), start_ms=at("10:00"), partitions=1)
    board = ProvisionalBoard(pipeline.assembler.config, max_lag_ms=3_600_000)
    board.observe(OpenCells(0, at("10:11"), {at("10:00"): {("q", "voice"): {"nOffered": (3, 3, 1, 1)}}}))
    assert board.due(pipeline.assembler_store, wall_ms=at("11:12")) == [], "61 minutes behind"
    [update] = board.due(pipeline.assembler_store, wall_ms=at("11:10"))
    assert update.provisional == 2
