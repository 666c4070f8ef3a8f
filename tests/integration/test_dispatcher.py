"""The dispatcher on the real broker, delivering to real HTTP servers on 127.0.0.1 that succeed,
throttle, stall, drop connections, refuse, or are down for a while."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streamvane.commands.processes import free_port
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from tests.support.dispatcher import QUARTER, QUEUE, START_MS, DispatchRun, profile, records
from tests.support.http_servers import ScriptedEndpoint, TokenServer, first, ok, wait_until

INTERVALS = 3
OAUTH_SECRET = "oauth-client-secret-5f1d9e"
BASIC_PASSWORD = "basic-password-c0ffee77"
BEARER_TOKEN = "bearer-token-8a7b6c5d4e"


@pytest.fixture
def servers() -> Iterator[dict[str, ScriptedEndpoint]]:
    made = {
        "ok": ScriptedEndpoint(ok),
        "unavailable": ScriptedEndpoint(first(2, ("status", (503, {"Retry-After": "1"})))),
        "throttled": ScriptedEndpoint(first(2, ("status", (429, {})))),
        "slow": ScriptedEndpoint(first(1, ("stall", 3.0))),
        "hangup": ScriptedEndpoint(first(1, ("close", None))),
        "refusing": ScriptedEndpoint(lambda i: ("status", (400, {}))),
        "down": ScriptedEndpoint(ok),
        "stalled": ScriptedEndpoint(lambda i: ("stall", 60.0)),
    }
    for name, server in made.items():
        if name != "down":
            server.start()
    yield made
    for server in made.values():
        server.close()


def test_every_failure_mode_ends_delivered_or_dead_lettered_and_never_leaks_a_secret(
    kafka_bootstrap: str, tmp_path: Path, servers: dict[str, ScriptedEndpoint]
) -> None:
    s = servers
    token_server = TokenServer(OAUTH_SECRET)
    profiles = [
        profile(
            "ok",
            s["ok"].url,
            endpoint={
                "auth": {
                    "type": "oauth2",
                    "token_url": token_server.url + "/token",
                    "client_id": "sv",
                    "client_secret": {"env": "SV_OAUTH"},
                }
            },
        ),
        profile(
            "unavailable",
            s["unavailable"].url,
            endpoint={"auth": {"type": "basic", "username": "sv", "password": {"env": "SV_BASIC"}}},
        ),
        profile(
            "throttled",
            s["throttled"].url,
            endpoint={"auth": {"type": "bearer", "token": {"env": "SV_BEARER"}}},
        ),
        profile("slow", s["slow"].url),
        profile("hangup", s["hangup"].url),
        profile("refusing", s["refusing"].url),
        profile("down", s["down"].url, retry={"cap_ms": 500}),
        profile("stalled", s["stalled"].url, endpoint={"timeout_ms": 60_000}),
    ]
    metrics_port = free_port()
    run = DispatchRun(
        kafka_bootstrap,
        tmp_path,
        profiles,
        secrets={
            "SV_OAUTH": OAUTH_SECRET,
            "SV_BASIC": BASIC_PASSWORD,
            "SV_BEARER": BEARER_TOKEN,
            "STREAMVANE_DISPATCHER__METRICS_PORT": str(metrics_port),
        },
    )
    try:
        feed = [r for p in profiles for r in records(p["id"], INTERVALS)]
        expected_keys = {
            p["id"]: [f'"{r.idempotency_key}"' for r in records(p["id"], INTERVALS)] for p in profiles
        }
        run.produce(feed)
        started = time.monotonic()
        run.start()

        # One stalled endpoint does not delay another profile's deliveries.
        wait_until(lambda: len(s["ok"].received) >= INTERVALS, 30, "the ok profile's deliveries")
        assert len(s["stalled"].received) == 1, "the stalled endpoint holds its first request"
        assert time.monotonic() - started < 20

        time.sleep(2)
        s["down"].start()  # down for a while, then back
        outcomes = run.wait_outcomes((len(profiles) - 1) * INTERVALS, timeout=90)
        by_profile: dict[str, list[dict[str, object]]] = {}
        for entry in sorted(outcomes, key=lambda e: int(str(e["intervalStartMs"]))):  # ledger: n partitions
            by_profile.setdefault(str(entry["profile"]), []).append(entry)

        for name in ("ok", "unavailable", "throttled", "slow", "hangup", "down"):
            results = [e["result"] for e in by_profile[name]]
            assert results == ["delivered"] * INTERVALS, name
            assert s[name].keys(200) == expected_keys[name], f"{name}: in order, same keys"
            assert set(s[name].keys()) == set(expected_keys[name]), f"{name}: retries reuse the key"

        # 503 + Retry-After: 1 s is honoured between the first attempts.
        gaps = [
            b.at - a.at
            for a, b in zip(s["unavailable"].received, s["unavailable"].received[1:], strict=False)
        ]
        assert gaps[0] >= 0.9 and gaps[1] >= 0.9
        assert [e["attempts"] for e in by_profile["unavailable"]] == [3, 1, 1]
        assert [e["attempts"] for e in by_profile["throttled"]] == [3, 1, 1]
        assert [e["attempts"] for e in by_profile["slow"]] == [2, 1, 1]
        assert [e["attempts"] for e in by_profile["hangup"]] == [2, 1, 1]

        # 400 → dead letter at once, one attempt each, full context.
        assert [e["result"] for e in by_profile["refusing"]] == ["rejected"] * INTERVALS
        assert len(s["refusing"].received) == INTERVALS
        dead = run.dead_letters()
        assert [(reason, ctx["profile"], ctx["status"], ctx["attempts"]) for reason, ctx in dead] == [
            ("rejected", "refusing", 400, 1)
        ] * INTERVALS
        assert all(ctx["responseExcerpt"] == '{"status": 400}' for _, ctx in dead)
        assert "stalled" not in by_profile
        scraped = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        )
        assert 'streamvane_dead_letters_total{profile="refusing",reason="rejected"} 3.0' in scraped
        assert 'streamvane_delivery_outcomes_total{profile="ok",result="delivered"} 3.0' in scraped
        assert 'streamvane_delivery_attempts_total{profile="unavailable",status="503"} 2.0' in scraped

        # Credentials arrived as configured ...
        basic = base64.b64encode(f"sv:{BASIC_PASSWORD}".encode()).decode()
        assert s["unavailable"].received[0].headers["Authorization"] == f"Basic {basic}"
        assert s["throttled"].received[0].headers["Authorization"] == f"Bearer {BEARER_TOKEN}"
        assert s["ok"].received[0].headers["Authorization"] == f"Bearer {token_server.token}"
        assert token_server.requests == 1, "the OAuth2 token is cached"
        # ... and appear nowhere else: not in logs, ledger or dead letters.
        run.stop()
        trail = run.log.read_bytes() + b"".join(orjson.dumps(e) for e in run.ledger())
        trail += b"".join(orjson.dumps(ctx) for _, ctx in dead)
        for secret in (OAUTH_SECRET, BASIC_PASSWORD, BEARER_TOKEN, basic, token_server.token):
            assert secret.encode() not in trail
    finally:
        token_server.close()
        run.cleanup()


def test_the_on_time_ratio_gauge_follows_the_acceptance_deadline(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Recent intervals (due in the future) delivered now are on time; dead-lettered ones are
    not. Old intervals (due before the rolling window) leave the gauge alone."""
    server = ScriptedEndpoint(ok).start()
    refusing = ScriptedEndpoint(lambda i: ("status", (400, {}))).start()
    metrics_port = free_port()
    profiles = [profile("prompt", server.url), profile("refused", refusing.url), profile("old", server.url)]
    run = DispatchRun(
        kafka_bootstrap,
        tmp_path,
        profiles,
        secrets={"STREAMVANE_DISPATCHER__METRICS_PORT": str(metrics_port)},
    )
    now_quarter = time.time_ns() // 1_000_000 // QUARTER * QUARTER
    feed = []
    for name in ("prompt", "refused"):
        spec = FeedProfile(id=name, version=1, dimensions=(Dimension(queue_id=QUEUE, media_type="voice"),))
        # the last closed quarter and the open one: both due (end + grace + deadline) after now,
        # whatever the minute this runs in (two quarters back would be due 11 min into this one)
        feed += [interval_record(spec, now_quarter - n * QUARTER, kpi=KpiConfig()) for n in (1, 0)]
    try:
        run.produce([*feed, *records("old", 2)])
        run.start()
        run.wait_outcomes(6)
        scraped = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        )
        assert 'streamvane_feed_on_time_ratio{profile="prompt"} 1.0' in scraped
        assert 'streamvane_feed_on_time_ratio{profile="refused"} 0.0' in scraped
        assert 'profile="old"' in scraped and 'streamvane_feed_on_time_ratio{profile="old"}' not in scraped
    finally:
        server.close()
        refusing.close()
        run.cleanup()


def test_kill_9_mid_retry_loses_nothing_and_resends_only_with_the_same_key(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    server = ScriptedEndpoint(first(3, ("status", (503, {"Retry-After": "1"})))).start()
    run = DispatchRun(kafka_bootstrap, tmp_path, [profile("crashy", server.url)])
    feed = records("crashy", 6)
    expected = [f'"{r.idempotency_key}"' for r in feed]
    try:
        run.produce(feed)
        run.start()
        wait_until(lambda: len(server.received) >= 2, 30, "the first retry")
        run.kill()  # mid-retry: nothing delivered yet
        assert server.keys(200) == []
        run.start()
        wait_until(lambda: len(server.keys(200)) >= 3, 30, "some deliveries after the restart")
        run.kill()  # mid-stream: some delivered, some committed, maybe some not
        run.start()
        run.wait_outcomes(len(feed), timeout=60)
        time.sleep(1)  # let a late duplicate show itself
        delivered = server.keys(200)
        assert set(server.keys()) == set(expected), "no request with a different key"
        assert sorted(set(delivered), key=expected.index) == expected, "every interval delivered"
        first_seen = sorted(set(delivered), key=delivered.index)
        assert first_seen == expected, "first deliveries in interval order"
        assert run.dead_letters() == []
    finally:
        server.close()
        run.cleanup()


def test_dead_letters_are_listed_and_redriven_and_past_intervals_replayed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    refusing = [True]
    server = ScriptedEndpoint(lambda i: ("status", (422 if refusing[0] else 200, {}))).start()
    run = DispatchRun(kafka_bootstrap, tmp_path, [profile("picky", server.url)])
    feed = records("picky", 4)
    keys = [f'"{r.idempotency_key}"' for r in feed]
    try:
        run.produce(feed)
        run.start()
        run.wait_outcomes(4)
        run.stop()
        listed = cli(run, "dlq", "list")
        assert [(e["intervalStartMs"], e["status"], e["waiting"]) for e in listed] == [
            (r.interval_start_ms, 422, True) for r in feed
        ]
        refusing[0] = False
        redriven = streamvane(run, "dlq", "redrive")
        assert redriven.returncode == 0, redriven.stderr.decode()
        assert server.keys(200) == keys, redriven.stderr.decode() + redriven.stdout.decode()
        assert cli(run, "dlq", "list", "--waiting") == []

        window = ("--profile", "picky", "--from", "2026-11-02T08:15:00Z", "--to", "2026-11-02T08:45:00Z")
        dry = streamvane(run, "replay", "deliver", *window, "--dry-run")
        assert dry.stdout.decode().count("would deliver picky") == 2
        assert len(server.keys(200)) == 4
        assert streamvane(run, "replay", "deliver", *window).returncode == 0
        assert server.keys(200) == keys + keys[1:3], "replayed with the original keys"
        sources = Counter((e["source"], e["result"]) for e in run.outcomes())
        assert sources == {
            ("dispatch", "rejected"): 4,
            ("redrive", "delivered"): 4,
            ("replay", "delivered"): 2,
        }
    finally:
        server.close()
        run.cleanup()


def test_a_replay_delivers_the_recorded_computation_or_refuses_never_a_mix(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Records computed under Genesys' default switches (short abandons count) are delivered by a
    dispatcher whose settings now leave them out: the body is what was computed (2 of 3 = 66.67 %,
    not 2 of 2). A record that does not say how it was computed is dead-lettered, and a replay
    over it is refused, before anything is sent."""
    server = ScriptedEndpoint(ok).start()
    today = {"sl_include_short_abandons": False}
    run = DispatchRun(kafka_bootstrap, tmp_path, [profile("sl", server.url)], settings={"kpi": today})
    spec = FeedProfile(id="sl", version=1, dimensions=(Dimension(queue_id=QUEUE, media_type="voice"),))
    acc = IntervalAccumulator()
    for metric, value in (("nOffered", 1), ("nOffered", 1), ("nOffered", 1), ("tAnswered", 4_000)):
        acc.add(metric, value)
    for metric in ("tAnswered", "tAbandon", "tShortAbandon"):
        acc.add(metric, 3_000)
    computed = interval_record(spec, START_MS, {(QUEUE, "voice"): acc}, kpi=KpiConfig())
    unrecorded = replace(
        interval_record(spec, START_MS + QUARTER, {(QUEUE, "voice"): acc}, kpi=KpiConfig()),
        kpi_fingerprint="",
    )
    try:
        run.produce([computed, unrecorded])
        run.start()
        outcomes = run.wait_outcomes(2)
        run.stop()
        assert [(o["intervalStartMs"], o["result"]) for o in outcomes] == [
            (START_MS, "delivered"),
            (START_MS + QUARTER, "unrenderable"),
        ]
        ((reason, context),) = run.dead_letters()
        assert reason == "unrenderable" and "before records carried their KPI settings" in context["detail"]
        assert [orjson.loads(r.body)["rows"][0]["serviceLevelPct"] for r in server.received] == [66.67]

        first = ("--profile", "sl", "--from", "2026-11-02T08:00:00Z", "--to", "2026-11-02T08:15:00Z")
        replayed = streamvane(run, "replay", "deliver", *first)
        assert replayed.returncode == 0, replayed.stderr.decode()
        fingerprints = f"computed with KPI settings {KpiConfig().fingerprint} (today's: "
        assert fingerprints + KpiConfig(**today).fingerprint in replayed.stderr.decode()
        assert [orjson.loads(r.body)["rows"][0]["serviceLevelPct"] for r in server.received] == [66.67] * 2

        both = ("--profile", "sl", "--from", "2026-11-02T08:00:00Z", "--to", "2026-11-02T08:30:00Z")
        refused = streamvane(run, "replay", "deliver", *both)
        assert refused.returncode == 2
        assert "refused: 1 intervals (the first 2026-11-02T08:15:00.000Z)" in refused.stderr.decode()
        assert len(server.received) == 2, "nothing was sent"
    finally:
        server.close()
        run.cleanup()


def streamvane(run: DispatchRun, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streamvane", *args], env=run.env, capture_output=True, check=False
    )


def cli(run: DispatchRun, *args: str) -> list[dict[str, object]]:
    done = streamvane(run, *args)
    assert done.returncode == 0, done.stderr.decode()
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]
