"""The Faust topology on the real broker: simulated Genesys events in, Avro feed records out."""

from __future__ import annotations

import random
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamvane.commands.processes import free_port
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.intervals import Granularity, IntervalGrid, format_instant
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support.expectations import Cells, expected_cells, late_offer, offered, record_cells
from tests.support.pipeline import BASE, Pipeline
from tests.support.worker import WorkerRun

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(agents=25, hours=1.5, seed=8, reorder_ms=30_000, duplicate_rate=0.03)
HORIZON_MS = 3 * 3_600_000
DIMENSIONS = [{"queue_id": qid, "media_type": q.media_type} for qid, q in queue_directory(SPEC).items()]
PROFILES: list[dict[str, Any]] = [
    {"id": "wfm-utc-15", "cadence": "PT15M", "time_zone": "UTC"},
    {"id": "kolkata-30", "cadence": "PT30M", "time_zone": "Asia/Kolkata"},
]
for _profile in PROFILES:
    _profile.update(version=1, dimensions=DIMENSIONS, correction_horizon_ms=HORIZON_MS)
TICK_MS = SPEC.end_ms + 2 * 3_600_000


@pytest.fixture
def run(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerRun]:
    worker = WorkerRun(
        kafka_bootstrap, tmp_path, PROFILES, feed_start=format_instant(SPEC.start_ms - 3_600_000)
    )
    yield worker
    worker.cleanup()


def expected_for(profile: dict[str, Any], lines: list[bytes]) -> dict[int, Cells]:
    return expected_cells(profile["cadence"], profile["time_zone"], lines)


def run_day(run: WorkerRun, lines: list[bytes] | None = None) -> tuple[list[bytes], list[FeedRecord]]:
    """Start the worker, feed it the simulated day, close it with a tick, read every record."""
    lines = lines if lines is not None else [line for _, line in delivery(SPEC, simulate(SPEC))]
    run.start()
    run.produce_events(lines)
    run.wait_keyed(len(lines))
    run.tick(TICK_MS)
    return lines, run.read_records(covered)


def covered(records: list[FeedRecord]) -> bool:
    """Every profile has reached the last interval the final tick makes final."""
    for profile in PROFILES:
        grid = IntervalGrid(Granularity.parse(profile["cadence"]), profile["time_zone"])
        last = grid.start_of(TICK_MS - 60_000 - 16 * 60_000) - grid.length_ms
        if not any(r.profile_id == profile["id"] and r.interval_start_ms >= last for r in records):
            return False
    return True


def test_a_simulated_day_yields_records_equal_to_compute_for_each_profile(run: WorkerRun) -> None:
    lines, records = run_day(run)
    for profile in PROFILES:
        mine = [r for r in records if r.profile_id == profile["id"]]
        got = {r.interval_start_ms: record_cells(r) for r in mine}
        assert {start: c for start, c in got.items() if c} == expected_cells(
            profile["cadence"], profile["time_zone"], lines
        )
        assert all(r.revision == 1 for r in mine)
        assert all(len(r.rows) == len(DIMENSIONS) for r in mine), "zero rows for quiet queues"
        starts = [r.interval_start_ms for r in mine]
        assert starts == sorted(set(starts)), "one record per interval, in order"


def test_late_event_restates_once_and_one_beyond_the_horizon_is_quarantined(run: WorkerRun) -> None:
    _, first = run_day(run)
    queue = DIMENSIONS[0]["queue_id"]
    restated_at = SPEC.end_ms - 20 * 60_000
    too_late = late_offer(SPEC.start_ms + 60_000, queue, "late-2")
    run.produce_events([late_offer(restated_at, queue, "late-1"), too_late], input_partitions=1)
    records = run.read_records(lambda rs: len(rs) >= len(first) + len(PROFILES))
    restated = records[len(first) :]
    assert sorted((r.profile_id, r.revision) for r in restated) == [("kolkata-30", 2), ("wfm-utc-15", 2)]
    for record in restated:
        before = next(
            r
            for r in first
            if (r.profile_id, r.interval_start_ms) == (record.profile_id, record.interval_start_ms)
        )
        assert record.compaction_key == before.compaction_key
        assert record.idempotency_key != before.idempotency_key
        assert offered(record, queue) == offered(before, queue) + 1
        assert record.interval_start_ms <= restated_at < record.interval_end_ms
    quarantined = run.read_quarantine(1)
    assert [(raw, headers["reason"]) for raw, headers in quarantined] == [(too_late, b"too-late")]


def test_malformed_input_is_quarantined_with_reasons_and_the_worker_keeps_going(run: WorkerRun) -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    bad = [
        b"{not json",
        orjson.dumps(
            {"topicName": "v2.detail.events.conversation.c.acd.start", "eventBody": {"eventTime": "x"}}
        ),
        orjson.dumps({"detail": {"eventBody": {}}}),
        orjson.dumps(
            {"topicName": "v2.detail.events.conversation.c.acd.end", "eventBody": {"conversationId": "c"}}
        ),
        b'{"pad": "' + b"x" * 300_000 + b'"}',
    ]
    port = free_port()
    run.env["STREAMVANE_WORKER__METRICS_PORT"] = str(port)
    run.start()
    run.produce_events(bad[:3] + lines + bad[3:], input_partitions=1)
    run.wait_keyed(len(lines))
    run.tick(TICK_MS)
    records = run.read_records(covered)
    reasons = sorted(headers["reason"].decode() for _, headers in run.read_quarantine(len(bad)))
    assert reasons == ["missing-field", "missing-field", "not-json", "too-large", "wrong-type"]
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'streamvane_quarantined_total{reason="not-json"} 1.0' in metrics
    assert 'streamvane_quarantined_total{reason="missing-field"} 2.0' in metrics
    assert f"streamvane_events_in_total {float(len(lines) + len(bad))}" in metrics
    utc_records = sum(r.profile_id == "wfm-utc-15" for r in records)
    assert f'streamvane_feed_records_total{{profile="wfm-utc-15"}} {float(utc_records)}' in metrics
    assert all(r.revision == 1 for r in records)
    utc = [r for r in records if r.profile_id == "wfm-utc-15"]
    assert {r.interval_start_ms: record_cells(r) for r in utc if record_cells(r)} == expected_cells(
        "PT15M", "UTC", lines
    )


def test_with_no_traffic_at_all_ticks_still_deliver_zero_rows_for_every_queue(run: WorkerRun) -> None:
    run.start()
    run.tick(TICK_MS)
    records = run.read_records(covered)
    utc = [r for r in records if r.profile_id == "wfm-utc-15"]
    assert len(utc) == (TICK_MS - 60_000 - 16 * 60_000 - (SPEC.start_ms - 3_600_000)) // 900_000
    assert all(len(r.rows) == len(DIMENSIONS) and not record_cells(r) for r in records)


def test_kill_9_at_random_points_gives_the_records_of_an_uninterrupted_run(run: WorkerRun) -> None:
    spec = SimulationSpec(agents=80, hours=2.5, seed=13, reorder_ms=20_000, duplicate_rate=0.02)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    tick = spec.end_ms + 2 * 3_600_000
    profiles = tuple(FeedProfile.model_validate(p) for p in PROFILES)
    uninterrupted = Pipeline(
        profiles, start_ms=BASE.start_of(SPEC.start_ms - 3_600_000), partitions=run.partitions
    )
    uninterrupted.feed(lines, tick_ms=tick)
    by_key = {r.idempotency_key: r for r in uninterrupted.records}

    rng = random.Random(99)
    run.produce_events(lines)
    run.start()
    for _ in range(5):
        run.wait_ready()
        time.sleep(rng.uniform(0.3, 2.5))  # mid-batch, mid-commit, mid-publish: wherever it lands
        run.kill()
        run.start()
    run.wait_ready()
    run.wait_forwarded(lines)
    run.tick(tick)
    time.sleep(rng.uniform(0.2, 1.0))
    run.kill()  # once more while closing and assembling
    run.start()
    records = run.read_records(lambda rs: {r.idempotency_key for r in rs} >= set(by_key), timeout=240)
    assert run.starts == 7
    assert all(by_key.get(r.idempotency_key) == r for r in records), "duplicates only as exact copies"
    assert {r.idempotency_key for r in records} == set(by_key), "nothing missing, nothing extra"
    assert all(r.revision == 1 for r in records)


def test_replay_recompute_keeps_unchanged_intervals_and_restates_what_changed(run: WorkerRun) -> None:
    _, first = run_day(run)
    queue = DIMENSIONS[1]["queue_id"]
    late_at = SPEC.start_ms + 60_000
    run.produce_events([late_offer(late_at, queue, "late-recompute")])
    assert [h["reason"] for _, h in run.read_quarantine(1)] == [b"too-late"]
    range_args = ["--from", format_instant(SPEC.start_ms - 3_600_000), "--to", format_instant(SPEC.end_ms)]
    in_range = [r for r in first if r.interval_start_ms < SPEC.end_ms]

    dry = streamvane_cli(run, "replay", "recompute", *range_args, "--dry-run")
    assert f"{len(in_range) - 2} unchanged, 2 restated, 0 new (dry run" in dry
    done = streamvane_cli(run, "replay", "recompute", *range_args)
    assert f"{len(in_range) - 2} unchanged, 2 restated, 0 new" in done
    records = run.read_records(lambda rs: len(rs) >= len(first) + 2)
    restated = records[len(first) :]
    assert sorted((r.profile_id, r.revision) for r in restated) == [("kolkata-30", 2), ("wfm-utc-15", 2)]
    for record in restated:
        assert record.interval_start_ms <= late_at < record.interval_end_ms
        before = next(r for r in first if r.compaction_key == record.compaction_key)
        assert offered(record, queue) == offered(before, queue) + 1
    again = streamvane_cli(run, "replay", "recompute", *range_args)
    assert f"{len(in_range)} unchanged, 0 restated, 0 new" in again


def streamvane_cli(run: WorkerRun, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "streamvane", *args], env=run.env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_events_shuffled_within_the_grace_period_and_all_duplicated_give_the_same_records(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A bridge that reorders events by up to 14 minutes (less than the 16-minute grace) and
    delivers every one twice: with the reorder tolerance set to cover it, the records are exactly
    those of the clean stream. (Shuffling beyond the configured tolerance is not covered by the
    promise: events behind it may miss their correlation partner.)"""
    run = WorkerRun(
        kafka_bootstrap,
        tmp_path,
        PROFILES,
        feed_start=format_instant(SPEC.start_ms - 3_600_000),
        settings={"kpi": {"reorder_tolerance_ms": 15 * 60_000}},
    )
    try:
        delivered = list(delivery(SPEC, simulate(SPEC)))
        clean = [line for _, line in delivered]
        rng = random.Random(5)
        messy: list[bytes] = []
        window: list[bytes] = []
        window_start = delivered[0][0]
        for at_ms, line in delivered:  # windows of 13 min of delivery time; event times ±30 s more
            if at_ms - window_start > 13 * 60_000:
                rng.shuffle(window)
                messy.extend(window)
                window, window_start = [], at_ms
            window += [line, line]
        rng.shuffle(window)
        messy.extend(window)
        _, records = run_day(run, messy)
        for profile in PROFILES:
            mine = [r for r in records if r.profile_id == profile["id"]]
            assert {r.interval_start_ms: record_cells(r) for r in mine if record_cells(r)} == expected_cells(
                profile["cadence"], profile["time_zone"], clean
            )
            assert all(r.revision == 1 for r in mine)
    finally:
        run.cleanup()
