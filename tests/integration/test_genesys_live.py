"""The live Genesys client against a local server that speaks Genesys' contract through the
vendor's own SDK models: token fetch and refresh, a range split into several queries, 429 with
Retry-After, a 401 that refreshes, errors that say what went wrong, and no token in any log."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from streamvane.cli import main
from streamvane.clients.genesys_analytics import GenesysAnalytics, GenesysApiError, GenesysConfigError
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.feeds.reconcile import parse_aggregates
from streamvane.feeds.secrets import SecretRef
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.settings import GenesysSettings
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth
from tests.support.genesys_api import GenesysContractServer, answer

SPEC = SimulationSpec(agents=40, hours=3, seed=7)
KPI = KpiConfig()
HOUR = 3_600_000


@pytest.fixture(scope="module")
def day() -> tuple[FeedProfile, dict[str, Any], dict[str, Any]]:
    """(profile over the simulated queues, ours computed from the events, Genesys' truth)."""
    conversations = simulate(SPEC)
    dims = tuple(Dimension(queue_id=q, media_type=s.media_type) for q, s in queue_directory(SPEC).items())
    profile = FeedProfile(id="wfm-live", version=1, cadence="PT15M", time_zone="UTC", dimensions=dims)
    grid = profile.grid()
    ours, _ = compute([line for _, line in delivery(SPEC, conversations)], grid, KPI, received_ms=2**62)
    truth = aggregates_response(ground_truth(conversations, grid, KPI).cells, grid, KPI)
    return profile, aggregates_response(ours.cells, grid, KPI), truth


def settings_for(server: GenesysContractServer, **extra: Any) -> GenesysSettings:
    return GenesysSettings(
        client_id=SecretRef(env="SV_GENESYS_ID"),
        client_secret=SecretRef(env="SV_GENESYS_SECRET"),
        login_url=server.url,
        api_url=server.url,
        **extra,
    )


def fetch(settings: GenesysSettings, profile: FeedProfile, hours: int) -> tuple[dict[str, Any], list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            client = GenesysAnalytics(settings, session, sleep=sleep)
            return await client.aggregates(profile, SPEC.start_ms, SPEC.start_ms + hours * HOUR)

    return asyncio.run(go()), slept


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> GenesysContractServer:
    server = GenesysContractServer(truth={})
    monkeypatch.setenv("SV_GENESYS_ID", server.client_id)
    monkeypatch.setenv("SV_GENESYS_SECRET", server.client_secret)
    return server


def test_a_range_is_split_throttling_waits_a_401_refreshes_and_no_token_is_logged(
    day: tuple[FeedProfile, dict[str, Any], dict[str, Any]],
    credentials: GenesysContractServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    profile, _, truth = day
    scripted = {2: ("status", (429, {"Retry-After": "2"})), 4: ("revoke", None)}
    server = credentials
    server.truth, server.script = truth, lambda n: scripted.get(n, answer(n))
    caplog.set_level(logging.DEBUG)
    try:
        got, slept = fetch(settings_for(server, max_window_days=1 / 24), profile, hours=3)
    finally:
        server.close()
    assert [q["interval"] for q in server.queries] == [
        "2026-11-02T08:00:00.000Z/2026-11-02T09:00:00.000Z",
        "2026-11-02T09:00:00.000Z/2026-11-02T10:00:00.000Z",  # 429
        "2026-11-02T09:00:00.000Z/2026-11-02T10:00:00.000Z",
        "2026-11-02T10:00:00.000Z/2026-11-02T11:00:00.000Z",  # 401: the token was revoked
        "2026-11-02T10:00:00.000Z/2026-11-02T11:00:00.000Z",
    ]
    assert server.statuses == [200, 429, 200, 401, 200]
    assert slept == [2.0], "Retry-After is honoured, with the injected sleep"
    assert len(server.tokens) == 2, "one token, refreshed once after the 401"
    assert server.problems == [], "every request is a ConversationAggregationQuery the SDK accepts"
    first = server.queries[0]
    assert (first["granularity"], first["timeZone"], first["groupBy"]) == (
        "PT15M",
        "UTC",
        ["queueId", "mediaType"],
    )
    assert "oServiceLevel" in first["metrics"] and len(first["filter"]["predicates"]) == len(
        {d.queue_id for d in profile.dimensions}
    )
    in_range = {k: v for k, v in parse_aggregates(truth).items() if k[0] < SPEC.start_ms + 3 * HOUR}
    assert parse_aggregates(got) == in_range, "the windows merge into the whole range"
    text = caplog.text
    assert "window 3 of 3" in text
    for secret in (*server.tokens, server.client_secret):
        assert secret not in text


def test_a_short_lived_token_is_fetched_again_and_errors_say_what_happened(
    day: tuple[FeedProfile, dict[str, Any], dict[str, Any]], credentials: GenesysContractServer
) -> None:
    profile, _, truth = day
    server = credentials
    server.truth, server.token_lifetime_s = truth, 30  # expires within the 30 s refresh margin
    try:
        fetch(settings_for(server, max_window_days=1 / 24), profile, hours=2)
        assert len(server.tokens) == 2, "each query finds its token expired and fetches a new one"
        server.script = lambda n: ("status", (400, {}))
        with pytest.raises(GenesysApiError, match="answered 400: scripted 400"):
            fetch(settings_for(server), profile, hours=1)
        server.script = lambda n: ("status", (503, {"Retry-After": "1"}))
        with pytest.raises(GenesysApiError, match="answered 503"):
            fetch(settings_for(server, max_attempts=3), profile, hours=1)
        assert server.statuses[-3:] == [503, 503, 503], "three attempts, then it gives up"
        with pytest.raises(GenesysConfigError, match=r"genesys\.client_secret: secret env:NOPE: not set"):
            fetch(
                settings_for(server).model_copy(update={"client_secret": SecretRef(env="NOPE")}), profile, 1
            )
    finally:
        server.close()
    assert server.problems == []


def test_reconcile_live_through_the_cli_judges_genesys_figures(
    day: tuple[FeedProfile, dict[str, Any], dict[str, Any]],
    credentials: GenesysContractServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    profile, ours, truth = day
    server = credentials
    server.truth = copy.deepcopy(truth)
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "profiles": [profile.model_dump(mode="json")],
                "genesys": {
                    "client_id": {"env": "SV_GENESYS_ID"},
                    "client_secret": {"env": "SV_GENESYS_SECRET"},
                    "login_url": server.url,
                    "api_url": server.url,
                },
            }
        )
    )
    monkeypatch.setenv("STREAMVANE_SETTINGS_FILE", str(settings))
    ours_file = tmp_path / "ours.json"
    ours_file.write_bytes(orjson.dumps(ours))
    args = ["reconcile", "--profile", profile.id, "--ours", str(ours_file), "--genesys", "live"]
    span = ["--from", "2026-11-02T08:00:00Z", "--to", "2026-11-02T11:00:00Z"]
    try:
        assert main([*args, *span]) == 0, capsys.readouterr()
        assert "0 out" in capsys.readouterr().out
        offered = next(
            row["stats"]
            for result in server.truth["results"]
            for data in result["data"]
            for row in data["metrics"]
            if row["metric"] == "nOffered" and row["stats"]["count"] >= 20
        )
        offered["count"] += 5
        assert main([*args, *span, "--format", "json"]) == 1
        out = [c for c in orjson.loads(capsys.readouterr().out)["cells"] if c["verdict"] == "out"]
        assert [c["field"] for c in out if c["field"] == "offered"] == ["offered"]
        assert main([*args, "--from", "2026-11-02T08:05:00Z", "--to", "2026-11-02T11:00:00Z"]) == 2
        assert "not an interval start" in capsys.readouterr().err
    finally:
        server.close()
    assert server.problems == []
