"""The Faust topology on the real broker: simulated Genesys events in, Avro feed records out."""

from __future__ import annotations

import hashlib
import itertools
import random
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource  # type: ignore[attr-defined]

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_to_end
from streamvane.commands.processes import free_port
from streamvane.feeds.profile import FeedProfile
from streamvane.genesys.events import KPI_KINDS
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid, format_instant
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth
from tests.support import kafka
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
    run.wait_ingested()
    closed = run.close_backfill(TICK_MS)
    assert f"written to {run.partitions} partitions of {run.topics['keyed']}" in closed
    return lines, run.read_records(covered)


def covered(records: list[FeedRecord]) -> bool:
    """Every profile has reached the last interval the final tick makes final."""
    return covered_by(TICK_MS)(records)


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
    # `streamvane reconcile --feed`: the live records against the simulator's independent truth
    grid = IntervalGrid(Granularity.PT15M, "UTC")
    truth = ground_truth(simulate(SPEC), grid, KpiConfig())
    genesys = run.tmp / "genesys.json"
    genesys.write_bytes(orjson.dumps(aggregates_response(truth.cells, grid, KpiConfig())))
    span = ["--from", format_instant(SPEC.start_ms), "--to", format_instant(SPEC.end_ms)]
    report = streamvane_cli(
        run, "reconcile", "--profile", "wfm-utc-15", *span, "--feed", "--genesys", str(genesys)
    )
    assert " 0 out" in report and " within tolerance" in report, report


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
    [(value, headers)] = run.read_quarantine(1)
    reference = orjson.loads(value)
    assert (headers["reason"], headers["by-reference"]) == (b"too-late", b"true")
    assert reference["event"]["conversation_id"] == "late-2"
    assert run.read_at(reference["topic"], reference["partition"], reference["offset"]) == too_late, (
        "the reference names the refused input record"
    )


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
    run.wait_ingested()
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
    """Ten kill -9s at random moments — mid-bundle, mid-flush, mid-commit, while closing — on a
    backlog: the records equal an uninterrupted run's, and both consumer groups end with lag 0
    as `kafka-consumer-groups --describe` reports it."""
    spec = SimulationSpec(agents=200, hours=4, seed=13, reorder_ms=20_000, duplicate_rate=0.02)
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
    for _ in range(9):
        run.wait_ready()
        time.sleep(rng.uniform(0.0, 1.2))  # the backlog is being read, bundled, correlated
        run.kill()
        run.start()
    run.wait_ready()
    run.wait_ingested()
    run.tick(tick)
    time.sleep(rng.uniform(0.0, 0.5))
    run.kill()  # the tenth, while closing and assembling
    run.start()
    records = run.read_records(lambda rs: {r.idempotency_key for r in rs} >= set(by_key), timeout=240)
    assert run.starts == 11
    assert all(by_key.get(r.idempotency_key) == r for r in records), "duplicates only as exact copies"
    assert {r.idempotency_key for r in records} == set(by_key), "nothing missing, nothing extra"
    assert all(r.revision == 1 for r in records)
    for group, topics in (
        (f"{run.app_id}-ingest", {run.topics["events"]}),
        (run.app_id, {run.topics["keyed"], run.topics["partials"]}),
    ):
        lags = run.wait_described_lag_zero(group, topics)
        assert {topic for topic, _ in lags} == topics and set(lags.values()) == {0}, (group, lags)


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


@pytest.mark.parametrize("reorder_ms", [600_000, 3_600_000])
def test_a_day_delivered_the_way_eventbridge_does_ends_with_the_records_of_the_sorted_day(
    kafka_bootstrap: str, tmp_path: Path, reorder_ms: int
) -> None:
    """Events reordered by up to 10 or 60 minutes (beyond the 2-minute reorder tolerance), 2 %
    delivered twice, one event from a clock a day ahead, and one whole conversation redelivered
    20 hours of event time later: the latest revision of every interval equals `compute` on the
    sorted day (restatements on the way are allowed), and the redelivery changes nothing."""
    long_horizon = [{**p, "correction_horizon_ms": 24 * 3_600_000} for p in PROFILES]
    run = WorkerRun(
        kafka_bootstrap, tmp_path, long_horizon, feed_start=format_instant(SPEC.start_ms - 3_600_000)
    )
    try:
        messy_spec = SPEC.model_copy(update={"reorder_ms": reorder_ms, "duplicate_rate": 0.02})
        sorted_spec = SPEC.model_copy(update={"reorder_ms": 0, "duplicate_rate": 0.0})
        conversations = simulate(SPEC)
        messy = [line for _, line in delivery(messy_spec, conversations)]
        clean = [line for _, line in delivery(sorted_spec, conversations)]
        queue = DIMENSIONS[0]["queue_id"]
        outlier = late_offer(time.time_ns() // 1_000_000 + 23 * 3_600_000, queue, "wrong-clock")
        again = conversations[len(conversations) // 2]
        redelivered = [line for _, line in delivery(sorted_spec, [again])]
        sentinel = late_offer(SPEC.start_ms + 30 * 60_000, queue, again.conversation_id)
        port = free_port()
        run.env["STREAMVANE_WORKER__METRICS_PORT"] = str(port)

        run.start()
        run.produce_events([*messy[: len(messy) // 3], outlier, *messy[len(messy) // 3 :]])
        run.wait_ingested()
        day_closed = SPEC.end_ms + 20 * 3_600_000
        run.tick(day_closed)
        closed = len(run.read_records(covered_by(day_closed)))
        # The same partition as the redelivery, after it: once it restates, the redelivery is done.
        run.produce_events([*redelivered, sentinel])
        records = run.read_records(lambda rs: len(rs) >= closed + len(PROFILES))
        for profile in PROFILES:
            latest = {r.interval_start_ms: r for r in records if r.profile_id == profile["id"]}
            got = {start: record_cells(r) for start, r in latest.items() if record_cells(r)}
            assert got == expected_cells(profile["cadence"], profile["time_zone"], [*clean, sentinel])
            after = [r.interval_start_ms for r in records[closed:] if r.profile_id == profile["id"]]
            assert after == [
                IntervalGrid(Granularity.parse(profile["cadence"]), profile["time_zone"]).start_of(
                    SPEC.start_ms + 30 * 60_000
                )
            ], "only the sentinel restates: the redelivered conversation counted once"
        assert [(raw, h["reason"]) for raw, h in run.read_quarantine(1)] == [(outlier, b"clock-skew")]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        duplicates = next(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith('streamvane_correlation_outcomes_total{outcome="duplicates"}')
        )
        kpi_events = sum(
            any(f".{kind}".encode() in line.split(b'"eventBody"')[0] for kind in KPI_KINDS)
            for line in redelivered
        )
        assert kpi_events >= 3
        assert duplicates >= kpi_events, "every KPI event of the redelivered conversation was a duplicate"
    finally:
        run.cleanup()


def covered_by(tick_ms: int) -> Callable[[list[FeedRecord]], bool]:
    """Every profile has reached the last interval a tick at ``tick_ms`` makes final."""

    def done(records: list[FeedRecord]) -> bool:
        for profile in PROFILES:
            grid = IntervalGrid(Granularity.parse(profile["cadence"]), profile["time_zone"])
            last = grid.start_of(tick_ms - 60_000 - 16 * 60_000) - grid.length_ms
            if not any(r.profile_id == profile["id"] and r.interval_start_ms >= last for r in records):
                return False
        return True

    return done


def test_two_workers_on_one_host_both_start_nothing_listens_unless_configured(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    runs = [
        WorkerRun(kafka_bootstrap, tmp_path / name, PROFILES, feed_start=format_instant(SPEC.start_ms))
        for name in ("a", "b")
    ]
    try:
        for worker in runs:
            worker.start()
        for worker in runs:
            worker.wait_ready()
            assert worker.proc is not None
            assert _listening_ports(worker.proc.pid) == set(), "no web server, no metrics port configured"
    finally:
        for worker in runs:
            worker.cleanup()


def _listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on (its sockets' inodes matched against /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink())
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # state LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_a_5_mb_record_is_quarantined_by_reference_and_no_valid_event_is_lost(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The input topic allows 8 MiB records; the quarantine copy of a 5 MB one would not fit, and
    producing it used to crash ingest after its offset was committed: the events behind it were lost."""
    run = WorkerRun(
        kafka_bootstrap,
        tmp_path,
        PROFILES,
        feed_start=format_instant(SPEC.start_ms - 3_600_000),
        events_config={"max.message.bytes": str(8 * 1024 * 1024)},
    )
    try:
        lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
        huge = b'{"pad": "' + b"x" * 5_000_000 + b'"}'
        middle = len(lines) // 2
        run.start()
        run.produce_events([*lines[:middle], huge, *lines[middle:]])
        run.wait_ingested()
        run.tick(TICK_MS)
        records = run.read_records(covered)
        [(value, headers)] = run.read_quarantine(1)
        assert headers["reason"] == b"too-large" and headers["by-reference"] == b"true"
        reference = orjson.loads(value)
        assert reference["size"] == len(huge)
        assert reference["sha256"] == hashlib.sha256(huge).hexdigest()
        assert (
            f"{reference['topic']}/{reference['partition']}/{reference['offset']}".encode()
            == headers["source"]
        )
        utc = [r for r in records if r.profile_id == "wfm-utc-15"]
        assert {r.interval_start_ms: record_cells(r) for r in utc if record_cells(r)} == expected_cells(
            "PT15M", "UTC", lines
        ), "every valid event before and after the huge one counted"
        run.assert_alive()
    finally:
        run.cleanup()


def test_a_worker_with_an_instance_id_killed_with_9_is_ready_again_within_10_seconds(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Static membership, as the chart deploys it (the pod name); the default session timeout."""
    run = WorkerRun(kafka_bootstrap, tmp_path, PROFILES, feed_start=format_instant(SPEC.start_ms))
    del run.env["STREAMVANE_WORKER__SESSION_TIMEOUT_S"]
    run.env["STREAMVANE_WORKER__INSTANCE_ID"] = f"worker-{run.run_id}-0"
    try:
        run.produce_events([line for _, line in delivery(SPEC, simulate(SPEC))])
        run.start()
        run.wait_ready()
        time.sleep(2)
        run.kill()
        restarted = time.monotonic()
        run.start()
        run.wait_ready(timeout=60)
        took = time.monotonic() - restarted
        assert took < 10, f"ready {took:.1f} s after a kill -9"
    finally:
        run.cleanup()


def test_a_replay_older_than_the_kept_history_is_refused_not_recomputed_from_fewer_events(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run = WorkerRun(kafka_bootstrap, tmp_path, PROFILES, feed_start=format_instant(SPEC.start_ms - 3_600_000))
    try:
        lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
        run.produce_events(lines)
        range_args = ["--from", format_instant(SPEC.start_ms), "--to", format_instant(SPEC.end_ms)]
        dry = [sys.executable, "-m", "streamvane", "replay", "recompute", *range_args, "--dry-run"]
        complete = subprocess.run(dry, env=run.env, capture_output=True, text=True, timeout=300)
        assert complete.returncode == 0, complete.stderr  # nothing was ever deleted: the history is whole
        group = f"{run.app_id}-ingest"  # a worker's group, positioned at the start of the day
        subprocess.run(
            [str(kafka.KAFKA_SH), "consumer-groups", "--bootstrap-server", kafka_bootstrap, "--group", group,
             "--topic", run.topics["events"], "--reset-offsets", "--to-earliest", "--execute"],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
        # Retention (or a deletion) removes the first 1,000 events of the day.
        client = kafka.admin(kafka_bootstrap)
        futures = client.delete_records([TopicPartition(run.topics["events"], 0, 1_000)])
        for future in futures.values():
            future.result(timeout=30)
        refused = subprocess.run(dry, env=run.env, capture_output=True, text=True, timeout=300)
        assert refused.returncode == 2
        assert f"event topic {run.topics['events']} keeps history only from" in refused.stderr
        assert "recomputing from 2026-11-02T08:00:00" in refused.stderr
        run.start()  # the worker resumes at the first event still held, and says what was lost
        run.wait_ingested()
        assert (
            f"input {run.topics['events']}/0: the group's position 0 is no longer held (the topic keeps "
            "records from 1000 on): 1000 events were deleted before this app read them" in run.log.read_text()
        )
    finally:
        run.cleanup()


def test_the_event_topic_keeps_its_history_unlimited_by_default(kafka_bootstrap: str, tmp_path: Path) -> None:
    run = WorkerRun(kafka_bootstrap, tmp_path, PROFILES, feed_start=format_instant(SPEC.start_ms))
    events = f"test.created-events.{run.run_id}"
    run.env["STREAMVANE_TOPICS__EVENTS"] = events
    try:
        run.start()
        run.wait_ready()
        client = kafka.admin(kafka_bootstrap)
        resource = ConfigResource(ConfigResource.Type.TOPIC, events)
        config = next(iter(client.describe_configs([resource]).values())).result(timeout=30)
        assert config["retention.ms"].value == "-1"
    finally:
        run.cleanup()
        kafka.delete_topics(kafka_bootstrap, [events])


TWO_WORKER_STALL = pytest.mark.xfail(
    strict=False,
    reason="known open defect: when a second worker joins while the first is still busy with the "
    "backlog, the worker keeping keyed partitions across the rebalance can stop applying them. Its "
    "Faust consumer keeps fetching (the read offsets follow the ticks), no gap is reported, and "
    "nothing reaches the stage; seen about 1 run in 10 under CPU load, and once in CI (session 7)",
)


@pytest.mark.parametrize(
    ("input_partitions", "workers"),
    [(1, 1), (4, 1), (8, 1), pytest.param(4, 2, marks=TWO_WORKER_STALL)],
)
def test_a_day_waiting_in_a_multi_partition_backlog_with_ticks_on_is_exact_with_one_revision(
    kafka_bootstrap: str, tmp_path: Path, input_partitions: int, workers: int
) -> None:
    """Ingest interleaves the input partitions in fetch order, so a keyed partition may hold hours
    of one before the first events of another; and wall-clock ticks must not close what the
    backlog still holds. The watermark is the minimum over the input partitions' markers, and only
    caught-up partitions tick."""
    # 6 hours up to 2 hours ago, produced while the worker was down; it starts with ticks on.
    start_ms = BASE.start_of(time.time_ns() // 1_000_000 - 8 * 3_600_000)
    spec = SimulationSpec(
        agents=100, hours=6, seed=8, reorder_ms=30_000, duplicate_rate=0.02, start_ms=start_ms
    )
    run = WorkerRun(
        kafka_bootstrap,
        tmp_path,
        PROFILES,
        feed_start=format_instant(start_ms - 3_600_000),
        partitions=input_partitions,
    )
    run.env["STREAMVANE_WORKER__TICKS_ENABLED"] = "true"
    others: list[subprocess.Popen[bytes]] = []
    try:
        lines = [line for _, line in delivery(spec, simulate(spec))]
        run.produce_events(lines, input_partitions=input_partitions)  # the backlog, before the worker
        run.start()
        for n in range(1, workers):  # more workers in the same group, each with its own state dir
            env = {**run.env, "STREAMVANE_DATA_DIR": str(tmp_path / f"state-{n}")}
            with (tmp_path / f"worker-{n}.log").open("ab") as out:
                command = [sys.executable, "-m", "streamvane", "worker", "--loglevel", "info"]
                others.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))

        def day_delivered(records: list[FeedRecord]) -> bool:
            return all(
                any(
                    r.profile_id == p["id"] and r.interval_start_ms >= spec.end_ms + 1_800_000
                    for r in records
                )
                for p in PROFILES
            )

        records = run.read_records(day_delivered, timeout=240)
        for profile in PROFILES:
            mine = [r for r in records if r.profile_id == profile["id"]]
            assert {r.interval_start_ms: record_cells(r) for r in mine if record_cells(r)} == expected_cells(
                profile["cadence"], profile["time_zone"], lines
            )
            assert all(r.revision == 1 for r in mine), "each interval exactly once"
        assert (
            list(read_to_end(KafkaConnection.plaintext(kafka_bootstrap), run.topics["quarantine"])) == []
        ), "nothing quarantined"
        assert all(other.poll() is None for other in others), "every worker is still running"
    finally:
        for other in others:
            other.terminate()
            other.wait(timeout=60)
        run.cleanup()


def test_the_readme_replay_path_recomputes_exactly_under_a_new_app_id_while_the_old_one_runs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """README, "Replay": a new app id, its ingest group reset with `kafka-consumer-groups
    --reset-offsets --to-datetime` an hour before its feed start (the hour pairs conversations
    that cross it), while the old app keeps running. Its records equal the old app's from the
    feed start on, under the same keys; no key names two bodies."""
    spec = SimulationSpec(agents=25, hours=3, seed=12, reorder_ms=30_000, duplicate_rate=0.03)
    delivered = list(delivery(spec, simulate(spec)))
    lines = [line for _, line in delivered]
    timestamps = list(itertools.accumulate((t for t, _ in delivered), max))  # a delivery clock
    tick_ms = spec.end_ms + 2 * 3_600_000
    old = WorkerRun(kafka_bootstrap, tmp_path, PROFILES, feed_start=format_instant(spec.start_ms - 3_600_000))
    feed_start = (spec.start_ms + 2 * 3_600_000) // 1_800_000 * 1_800_000
    new_app = f"{old.app_id}-replay"
    new_env = {
        **old.env,
        "STREAMVANE_WORKER__APP_ID": new_app,
        "STREAMVANE_WORKER__FEED_START": format_instant(feed_start),
        "STREAMVANE_DATA_DIR": str(tmp_path / "new-state"),
    }
    for own in ("STREAMVANE_TOPICS__KEYED", "STREAMVANE_TOPICS__PARTIALS"):
        del new_env[own]  # the new app's internal topics are named by its app id
    new: subprocess.Popen[bytes] | None = None
    try:
        old.start()
        old.produce_events(lines, timestamps=timestamps)
        old.wait_ingested()
        old.close_backfill(tick_ms)
        first = old.read_records(covered_by(tick_ms))

        reset_to = datetime.fromtimestamp((feed_start - 3_600_000) / 1000, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.000"
        )
        reset = subprocess.run(
            [
                str(kafka.KAFKA_SH),
                "consumer-groups",
                "--bootstrap-server",
                kafka_bootstrap,
                "--group",
                f"{new_app}-ingest",
                "--topic",
                old.topics["events"],
                "--reset-offsets",
                "--to-datetime",
                reset_to,
                "--execute",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        assert f"{new_app}-ingest" in reset, reset
        with (tmp_path / "new.log").open("ab") as out:
            command = [sys.executable, "-m", "streamvane", "worker", "--loglevel", "info"]
            new = subprocess.Popen(command, env=new_env, stdout=out, stderr=subprocess.STDOUT)
        replayer = old.same_topics_as(new_app, new_env, new)
        replayer.wait_ingested()
        replayer.close_backfill(tick_ms)
        wanted = {(r.profile_id, r.interval_start_ms) for r in first if r.interval_start_ms >= feed_start}
        records = old.read_records(
            lambda rs: {(r.profile_id, r.interval_start_ms) for r in rs[len(first) :]} >= wanted
        )
        assert old.proc is not None and old.proc.poll() is None, "the old app kept running"
    finally:
        if new is not None:
            new.terminate()
            new.wait(timeout=60)
        old.cleanup()
        kafka.delete_topics(
            kafka_bootstrap,
            [f"{new_app}.events.keyed.v1", f"{new_app}.partials.v1"]
            + [f"{new_app}-{t}-changelog" for t in ("correlation-state", "assembly-state")],
        )
    replayed = records[len(first) :]
    assert min(r.interval_start_ms for r in replayed) == feed_start, "nothing before its feed start"
    old_by_interval = {(r.profile_id, r.interval_start_ms): r for r in first}
    assert {(r.profile_id, r.interval_start_ms) for r in replayed} == wanted
    for record in replayed:
        before = old_by_interval[(record.profile_id, record.interval_start_ms)]
        assert (record.rows, record.event_count) == (before.rows, before.event_count), record.compaction_key
        assert record.idempotency_key == before.idempotency_key and record.revision == 1
    by_key: dict[str, FeedRecord] = {}
    for record in first + replayed:
        assert by_key.setdefault(record.idempotency_key, record).rows == record.rows, (
            "no key names two bodies"
        )


def test_close_backfill_refuses_while_ingest_has_not_read_the_backfill(run: WorkerRun) -> None:
    """A tick written before ingest's last bundles would close intervals they still fill."""
    run.produce_events([late_offer(SPEC.start_ms, DIMENSIONS[0]["queue_id"], "c-1")])
    until = format_instant(TICK_MS)
    done = subprocess.run(
        [sys.executable, "-m", "streamvane", "close-backfill", "--until", until, "--wait-s", "2"],
        env=run.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert f"ingest ({run.app_id}-ingest) has not read the backfill (no committed offsets" in done.stderr
    assert "waiting for ingest" in done.stdout and "written to" not in done.stdout


def test_replay_recompute_on_a_4_partition_topic_agrees_with_the_worker_and_twice_changes_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The day spread round robin over 4 input partitions: `replay recompute` finds every interval
    the worker delivered unchanged, and a second run as well."""
    run = WorkerRun(
        kafka_bootstrap,
        tmp_path,
        PROFILES,
        feed_start=format_instant(SPEC.start_ms - 3_600_000),
        partitions=4,
    )
    try:
        lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
        run.start()
        run.produce_events(lines, input_partitions=4)
        run.wait_ingested()
        run.close_backfill(TICK_MS)
        first = run.read_records(covered)
        range_args = [
            "--from",
            format_instant(SPEC.start_ms - 3_600_000),
            "--to",
            format_instant(SPEC.end_ms),
        ]
        in_range = [r for r in first if r.interval_start_ms < SPEC.end_ms]
        for _ in range(2):
            done = streamvane_cli(run, "replay", "recompute", *range_args)
            assert f"{len(in_range)} unchanged, 0 restated, 0 new" in done, done
    finally:
        run.cleanup()


def test_a_worker_that_lost_its_local_state_recovers_it_from_the_changelogs_we_write(run: WorkerRun) -> None:
    """The tables' changelogs are written by our BatchTable through librdkafka: Faust's own
    recovery must rebuild the state from them. Half a day, kill -9, the state dir deleted (a pod
    rescheduled without its volume), the rest of the day: the records equal compute's."""
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    half = len(lines) // 2
    run.start()
    run.produce_events(lines[:half])
    run.wait_ingested()
    lags = run.wait_described_lag_zero(run.app_id, {run.topics["keyed"]})
    assert set(lags.values()) == {0}, "correlate applied the first half (nothing closes: ticks are off)"
    changelog = f"{run.app_id}-correlation-state-changelog"
    assert sum(1 for _ in read_to_end(KafkaConnection.plaintext(run.bootstrap), changelog)) > 0
    run.kill()
    state = run.tmp / "state"
    assert any(state.rglob("*.db")), "the worker kept RocksDB state here"
    shutil.rmtree(state)
    port = free_port()
    run.env["STREAMVANE_WORKER__METRICS_PORT"] = str(port)
    run.start()
    seen = _poll_readyz(port, run)
    run.wait_ready()
    assert seen[-1][0] == 200 and any(status == 503 for status, _, _ in seen[:-1]), seen[:3]
    assert seen[-1][2], "/readyz said ready only once the tables were restored from the changelogs"
    assert any("restoring tables from their changelogs" in reason for _, reason, _ in seen), seen
    run.produce_events(lines[half:])
    run.wait_ingested()
    run.close_backfill(TICK_MS)
    records = run.read_records(covered)
    assert "Restore complete" in run.log.read_text().rsplit("===== start 2 =====", 1)[1]
    for profile in PROFILES:
        mine = [r for r in records if r.profile_id == profile["id"]]
        got = {r.interval_start_ms: record_cells(r) for r in mine}
        assert {start: c for start, c in got.items() if c} == expected_for(profile, lines)
        assert all(r.revision == 1 for r in mine)


def _poll_readyz(port: int, run: WorkerRun, timeout: float = 120) -> list[tuple[int, str, bool]]:
    """(status, body, restore logged) of /readyz every 20 ms from start until it answers 200."""
    seen: list[tuple[int, str, bool]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.assert_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                status, body = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
        except OSError:
            time.sleep(0.02)
            continue
        restored = "Restore complete" in run.log.read_text().rsplit("===== start", 1)[-1]
        if not seen or seen[-1][:2] != (status, body):
            seen.append((status, body, restored))
        if status == 200:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"/readyz never answered 200: {seen}")
