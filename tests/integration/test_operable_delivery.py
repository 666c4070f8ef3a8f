"""Delivery an operator can run, on the real broker with real endpoints on 127.0.0.1: each test
reproduces one defect found against a misbehaving WFM endpoint, checked from the endpoint's own
request log, the ledger, the dead-letter topic and ``kafka-consumer-groups --describe``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord
from tests.support import kafka
from tests.support.dispatcher import QUEUE, START_MS, DispatchRun, profile, records
from tests.support.http_servers import ScriptedEndpoint, ok, wait_until


def streamvane(run: DispatchRun, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streamvane", *args],
        env=run.env,
        capture_output=True,
        check=False,
        timeout=120,
    )


def revision(profile_id: str, offered: int, rev: int) -> FeedRecord:
    """Revision ``rev`` of the 08:00 interval, offering ``offered`` calls."""
    spec = FeedProfile(id=profile_id, version=1, dimensions=(Dimension(queue_id=QUEUE, media_type="voice"),))
    acc = IntervalAccumulator()
    for _ in range(offered):
        acc.add("nOffered", 1)
    return interval_record(spec, START_MS, {(QUEUE, "voice"): acc}, rev, kpi=KpiConfig())


def group_lag(run: DispatchRun) -> dict[tuple[str, int], int | None]:
    lags = kafka.described_lag(run.bootstrap, f"sv-dispatch-{run.run_id}")
    return {k: v for k, v in lags.items() if k[0] == run.topics["feed_records"]}


def test_a_missing_client_certificate_is_a_config_error_not_a_silent_lane_and_restarts_resend_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    healthy = ScriptedEndpoint(ok).start()
    never = ScriptedEndpoint(ok).start()
    missing = tmp_path / "absent-client.pem"
    mtls = profile(
        "mtls", never.url.replace("http:", "https:"), endpoint={"tls": {"client_cert": str(missing)}}
    )
    run = DispatchRun(kafka_bootstrap, tmp_path, [mtls, profile("healthy", healthy.url)])
    try:
        run.produce([*records("mtls", 3), *records("healthy", 3)])
        run.start()
        outcomes = run.wait_outcomes(6)
        mine = [o for o in outcomes if o["profile"] == "mtls"]
        assert [(o["result"], o["attempts"]) for o in mine] == [("config-error", 0)] * 3, "no retries"
        assert all(str(missing) in o["detail"] for o in mine)
        dead = run.dead_letters()
        assert [(reason, ctx["profile"]) for reason, ctx in dead] == [("config-error", "mtls")] * 3
        assert str(missing) in dead[0][1]["detail"]
        assert never.received == [], "nothing was sent without its certificate"
        assert f"profile mtls: endpoint.tls.client_cert: {missing}: no such file" in run.log.read_text()
        assert len(healthy.keys(200)) == 3
        wait_until(lambda: group_lag(run) == {(run.topics["feed_records"], 0): 0}, 30, "lag 0 (--describe)")

        run.stop()  # graceful, then again after a crash: nothing already finished is sent again
        run.start()
        time.sleep(3)
        run.kill()
        run.start()
        time.sleep(3)
        run.assert_alive()
        assert len(healthy.received) == 3 and len(run.dead_letters()) == 3
        assert len(run.outcomes()) == 6
    finally:
        healthy.close()
        never.close()
        run.cleanup()


def test_kill_9_with_one_endpoint_down_resends_nothing_the_healthy_endpoints_acknowledged(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    down = ScriptedEndpoint(ok)
    first, second = ScriptedEndpoint(ok).start(), ScriptedEndpoint(ok).start()
    profiles = [
        profile("down", down.url, delivery_deadline_ms=600_000),
        profile("first", first.url),
        profile("second", second.url),
    ]
    run = DispatchRun(kafka_bootstrap, tmp_path, profiles)
    feed = [r for p in ("down", "first", "second") for r in records(p, 4)]
    try:
        run.produce(feed)
        run.start()
        wait_until(lambda: len(first.keys(200)) == 4 and len(second.keys(200)) == 4, 30, "healthy deliveries")
        time.sleep(1)
        assert group_lag(run) != {(run.topics["feed_records"], 0): 0}, "the down profile holds the offset"
        run.kill()
        run.start()
        down.start()
        wait_until(lambda: len(down.keys(200)) == 4, 60, "the down profile's deliveries after it came up")
        time.sleep(2)
        for endpoint in (first, second):
            assert Counter(endpoint.keys()).most_common(1)[0][1] == 1, "no acknowledged record sent twice"
            assert len(endpoint.received) == 4
        wait_until(lambda: group_lag(run) == {(run.topics["feed_records"], 0): 0}, 30, "lag 0 (--describe)")
    finally:
        for endpoint in (down, first, second):
            endpoint.close()
        run.cleanup()


def test_a_dead_letter_redrive_never_overwrites_a_newer_revision(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    refusing = [True]
    server = ScriptedEndpoint(lambda i: ("status", (422 if refusing[0] else 200, {}))).start()
    run = DispatchRun(kafka_bootstrap, tmp_path, [profile("picky", server.url)])
    stale, fresh = revision("picky", 3, 1), revision("picky", 5, 2)
    try:
        run.produce([stale])
        run.start()
        run.wait_outcomes(1)
        refusing[0] = False
        run.produce([fresh])
        run.wait_outcomes(2)
        run.stop()
        assert server.keys(200) == [f'"{fresh.idempotency_key}"']

        redriven = streamvane(run, "dlq", "redrive")
        assert redriven.returncode == 0, redriven.stderr.decode()
        assert "1 superseded by a newer revision (not sent)" in redriven.stderr.decode()
        assert server.keys(200) == [f'"{fresh.idempotency_key}"'], "the stale revision was not sent"
        superseded = [o for o in run.outcomes() if o["result"] == "superseded"]
        assert [(o["revision"], o["source"]) for o in superseded] == [(1, "redrive")]
        listed = [orjson.loads(line) for line in streamvane(run, "dlq", "list").stdout.splitlines()]
        assert [(e["revision"], e["state"]) for e in listed] == [(1, "superseded")]
    finally:
        server.close()
        run.cleanup()


def test_redrive_of_one_profile_filters_the_whole_dlq_and_lanes_run_in_parallel_and_stop_cleanly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    refusing = [True]
    ahead = ScriptedEndpoint(lambda i: ("status", (422, {})) if refusing[0] else ("stall", 60.0)).start()
    wanted = ScriptedEndpoint(lambda i: ("status", (422 if refusing[0] else 200, {}))).start()
    run = DispatchRun(kafka_bootstrap, tmp_path, [profile("ahead", ahead.url), profile("wanted", wanted.url)])
    try:
        run.produce(records("ahead", 3))  # the other profile's dead letters come first
        run.produce(records("wanted", 4))
        run.start()
        run.wait_outcomes(7)
        run.stop()
        refusing[0] = False

        only = streamvane(run, "dlq", "redrive", "--profile", "wanted")
        assert only.returncode == 0, only.stderr.decode()
        assert "4 waiting entries to redrive (profile wanted)" in only.stderr.decode()
        assert len(wanted.keys(200)) == 4 and len(ahead.received) == 3, "the other profile's stay waiting"
        waiting = [
            orjson.loads(line) for line in streamvane(run, "dlq", "list", "--waiting").stdout.splitlines()
        ]
        assert [e["profile"] for e in waiting] == ["ahead"] * 3

        for n in range(2):  # two more for "wanted", redriven beside the stalled "ahead" lane
            run.produce([records("wanted", 6)[4 + n]])
        run.start()
        run.wait_outcomes(9)
        run.stop()
        started = time.monotonic()
        timed = streamvane(run, "dlq", "redrive", "--timeout", "6")
        assert time.monotonic() - started < 30, "one stalled endpoint does not serialize the redrive"
        assert timed.returncode == 1 and "timed out" in timed.stderr.decode()
        assert len(wanted.keys(200)) == 4, "the new dead letters of wanted were already delivered"

        before = len(ahead.received)
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamvane", "dlq", "redrive", "--profile", "ahead"],
            env=run.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_until(lambda: len(ahead.received) > before, 30, "the redrive's first stalled request")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err.decode()
        assert b"Traceback" not in err and b"interrupted" in err
        still = [
            orjson.loads(line) for line in streamvane(run, "dlq", "list", "--waiting").stdout.splitlines()
        ]
        assert [e["profile"] for e in still] == ["ahead"] * 3, "an interrupted redrive leaves them waiting"
    finally:
        ahead.close()
        wanted.close()
        run.cleanup()


def test_profiles_on_one_host_do_not_wait_for_each_other(kafka_bootstrap: str, tmp_path: Path) -> None:
    server = ScriptedEndpoint()
    server.script = lambda i: (
        ("stall", 5.0) if server.received[-1].path.startswith("/slow") else ("status", (200, {}))
    )
    server.start()
    slow = profile("slow", server.url + "/slow", endpoint={"max_in_flight": 1, "timeout_ms": 10_000})
    run = DispatchRun(kafka_bootstrap, tmp_path, [slow, profile("fast", server.url + "/fast")])
    try:
        run.produce([*records("slow", 2), *records("fast", 3)])
        run.start()
        wait_until(lambda: any(r.path.startswith("/slow") for r in server.received), 30, "the slow request")
        stalled_at = time.monotonic()
        wait_until(
            lambda: sum(r.path.startswith("/fast") for r in server.received) == 3, 30, "fast deliveries"
        )
        assert time.monotonic() - stalled_at < 3, "the fast profile did not wait for the stalled one"
    finally:
        server.close()
        run.cleanup()


def test_a_dead_letter_counts_every_attempt_across_a_crash(kafka_bootstrap: str, tmp_path: Path) -> None:
    server = ScriptedEndpoint(lambda i: ("status", (503, {"Retry-After": "1"}))).start()
    run = DispatchRun(kafka_bootstrap, tmp_path, [profile("flaky", server.url, delivery_deadline_ms=12_000)])
    record = records("flaky", 1)[0]
    try:
        run.produce([record])
        run.start()
        wait_until(lambda: len(server.received) >= 3, 30, "three attempts")
        run.kill()
        before = len(server.received)
        run.start()
        [outcome] = run.wait_outcomes(1, timeout=60)
        assert outcome["result"] == "deadline-exceeded"
        [(_, context)] = run.dead_letters()
        assert len(server.received) > before, "attempts continued after the restart"
        assert context["attempts"] == outcome["attempts"] == len(server.received)
        started = [e["attempt"] for e in run.ledger() if e["kind"] == "attempt-started"]
        assert started == list(range(1, len(server.received) + 1)), "every attempt announced once, in order"
    finally:
        server.close()
        run.cleanup()
