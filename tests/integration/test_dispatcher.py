"""The dispatcher on the real broker, delivering to real HTTP servers on 127.0.0.1 that succeed,
throttle, stall, drop connections, refuse, or are down for a while."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.support.dispatcher import DispatchRun, profile, records
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
    run = DispatchRun(
        kafka_bootstrap,
        tmp_path,
        profiles,
        secrets={"SV_OAUTH": OAUTH_SECRET, "SV_BASIC": BASIC_PASSWORD, "SV_BEARER": BEARER_TOKEN},
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
        for entry in outcomes:
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
