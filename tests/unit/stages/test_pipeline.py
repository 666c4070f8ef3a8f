"""Stage logic end to end on dict stores: simulated day → feed records equal to `compute`."""

from __future__ import annotations

import orjson

from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.expectations import expected_cells, late_offer, record_cells
from tests.support.genesys import Conversation
from tests.support.pipeline import BASE, Pipeline

SPEC = SimulationSpec(agents=30, hours=2.5, seed=21, reorder_ms=20_000, duplicate_rate=0.05)
DIMENSIONS = tuple(
    Dimension(queue_id=qid, media_type=q.media_type) for qid, q in queue_directory(SPEC).items()
)
PROFILES = (
    FeedProfile(id="wfm-15", version=1, cadence="PT15M", time_zone="UTC", dimensions=DIMENSIONS),
    FeedProfile(id="berlin-30", version=2, cadence="PT30M", time_zone="Europe/Berlin", dimensions=DIMENSIONS),
    FeedProfile(id="nepal-60", version=1, cadence="PT60M", time_zone="Asia/Kathmandu", dimensions=DIMENSIONS),
)


def test_records_of_every_profile_equal_compute_interval_for_interval() -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    start = SPEC.start_ms - 3_600_000  # every profile grid starts on or before the first event
    pipeline = Pipeline(PROFILES, start_ms=start)
    pipeline.feed(lines, tick_ms=SPEC.end_ms + 6 * 3_600_000)
    assert pipeline.quarantined == []
    for profile in PROFILES:
        records = [r for r in pipeline.records if r.profile_id == profile.id]
        assert all(r.revision == 1 for r in records), "no late data: nothing is restated"
        truth = expected_cells(profile.cadence, profile.time_zone, lines)
        got = {r.interval_start_ms: record_cells(r) for r in records}
        assert {k: v for k, v in got.items() if v} == truth
        starts = [r.interval_start_ms for r in records]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        assert all(len(r.rows) == len(DIMENSIONS) for r in records), "the full grid, quiet queues included"
        assert records[0].interval_start_ms <= min(truth) and records[-1].interval_start_ms >= max(truth)


def test_redelivered_batches_change_nothing() -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    once = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms)
    once.feed(lines, tick_ms=SPEC.end_ms + 6 * 3_600_000)
    twice = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms)
    half = len(lines) // 2
    twice.feed(lines[:half], batch=50)
    twice.reread_input()
    twice.feed(lines, tick_ms=SPEC.end_ms + 6 * 3_600_000)
    assert twice.records == once.records


def test_late_data_restates_within_the_horizon_and_is_quarantined_beyond_it() -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    pipeline = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms)
    pipeline.feed(lines, tick_ms=SPEC.end_ms + 3_600_000)
    first = {r.interval_start_ms: r for r in pipeline.records}
    queue = DIMENSIONS[0].queue_id
    restated_at = SPEC.end_ms - 25 * 60_000
    pipeline.feed(
        [late_offer(restated_at, queue, "late-1"), late_offer(SPEC.start_ms + 60_000, queue, "late-2")]
    )
    restated = pipeline.records[len(first) :]
    assert [(r.interval_start_ms, r.revision) for r in restated] == [(BASE.start_of(restated_at), 2)]
    before, after = first[restated[0].interval_start_ms], restated[0]
    assert after.compaction_key == before.compaction_key and after.idempotency_key != before.idempotency_key
    count = {
        rec.revision: next(
            m.count
            for row in rec.rows
            if row.queue_id == queue
            for m in row.metrics
            if m.metric == "nOffered"
        )
        for rec in (before, after)
    }
    assert count[2] == count[1] + 1
    [refused] = pipeline.quarantined
    reference = orjson.loads(refused.value)
    assert (refused.reason, reference["event"]["conversation_id"]) == ("too-late", "late-2")
    assert dict(refused.headers)["by-reference"] == b"true"
    assert (reference["topic"], reference["partition"]) == ("events", 0), "where its bytes are"


def test_state_of_intervals_and_conversations_past_every_horizon_is_dropped() -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    pipeline = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms)
    pipeline.feed(lines, tick_ms=SPEC.end_ms + 3_600_000)
    assert any(k.startswith("k|") for store in pipeline.stores for k in store.data)
    # Past every horizon: a message may wait 8 days in queue, its session is kept 26 h past that.
    pipeline.feed([], tick_ms=SPEC.end_ms + 10 * 86_400_000)
    left = {k.split("|")[0] for store in pipeline.stores for k in store.data}
    assert left <= {"m", "r"}, "cells, dimensions, conversations and deadlines are gone"
    horizon_intervals = PROFILES[0].correction_horizon_ms // 900_000
    assert all(sum(k.startswith("r|") for k in s.data) <= horizon_intervals + 2 for s in pipeline.stores)
    partials = [k for k in pipeline.assembler_store.data if k.startswith("p|")]
    assert len(partials) <= (horizon_intervals + 4 + 2) * pipeline.partitions  # + one PT60M interval


def _handle_rows(record: FeedRecord, queue: str) -> tuple[int, int] | None:
    row = next(r for r in record.rows if r.queue_id == queue)
    return next(((m.count, m.sum) for m in row.metrics if m.metric == "tHandle"), None)


def test_a_late_wrap_up_moves_the_handle_and_restates_the_interval_it_left() -> None:
    queue = DIMENSIONS[0].queue_id
    call = Conversation(conversation_id="late-acw")
    user_end_at, acw_at = SPEC.start_ms + 5 * 60_000, SPEC.start_ms + 50 * 60_000
    call.agent(queue, ended=user_end_at, talk_ms=200_000, acw_at=acw_at, wrapup_ms=2_000_000)
    user_end, acw = call.lines()
    pipeline = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms)
    pipeline.feed([user_end], tick_ms=acw_at - 60_000)  # closes 08:00 with a provisional handle
    first = {r.interval_start_ms: r for r in pipeline.records}
    left = BASE.start_of(user_end_at)
    assert _handle_rows(first[left], queue) == (1, 200_000)
    pipeline.feed([acw], tick_ms=acw_at + 3_600_000)
    restated = [r for r in pipeline.records[len(first) :] if r.revision > 1]
    assert [(r.interval_start_ms, r.revision) for r in restated] == [(left, 2)]
    assert _handle_rows(restated[0], queue) is None
    latest = {r.interval_start_ms: r for r in pipeline.records}
    assert _handle_rows(latest[BASE.start_of(acw_at)], queue) == (1, 2_200_000)


def test_a_wrap_up_after_the_correction_horizon_leaves_the_handle_where_it_was() -> None:
    queue = DIMENSIONS[0].queue_id
    call = Conversation(conversation_id="very-late-acw")
    horizon = PROFILES[0].correction_horizon_ms
    user_end_at = SPEC.start_ms + 5 * 60_000
    acw_at = user_end_at + horizon + 30 * 60_000  # a wrap-up longer than the correction horizon
    call.agent(queue, ended=user_end_at, talk_ms=200_000, acw_at=acw_at, wrapup_ms=horizon)
    user_end, acw = call.lines()
    pipeline = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms)
    pipeline.feed([user_end], tick_ms=acw_at)
    pipeline.feed([acw], tick_ms=acw_at + 3_600_000)
    latest = {r.interval_start_ms: r for r in pipeline.records}
    assert _handle_rows(latest[BASE.start_of(user_end_at)], queue) == (1, 200_000), "counted once"
    assert _handle_rows(latest[BASE.start_of(acw_at)], queue) is None
    assert all(r.revision == 1 for r in pipeline.records)
