"""Provisional updates through a real `streamvane dispatch` on the real broker, to a real HTTP
server on 127.0.0.1 that holds updates: the final never waits for them, nothing of an interval
follows its final, and the final's bytes are those of the same profile without updates."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote

import orjson

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import render
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord
from tests.support.dispatcher import QUARTER, QUEUE, START_MS, DispatchRun, profile
from tests.support.http_servers import Received, ScriptedEndpoint, wait_until

EVERY_MS = 300_000
PROVISIONAL = "X-Streamvane-Provisional"


def updating_profile(url: str) -> dict[str, object]:
    """One request at a time, each allowed 30 s: an update held by the server holds the endpoint."""
    return profile(
        "wfm",
        url,
        endpoint={"max_in_flight": 1, "timeout_ms": 30_000},
        provisional={"every_ms": EVERY_MS},
    )


def interval(spec: FeedProfile, start_ms: int, offered: int, update: int = 0) -> FeedRecord:
    acc = IntervalAccumulator()
    for _ in range(offered):
        acc.add("nOffered", 1)
    return interval_record(spec, start_ms, {(QUEUE, "voice"): acc}, kpi=KpiConfig(), provisional=update)


def story(server: ScriptedEndpoint, start_ms: int) -> list[Received]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_ms / 1000))
    return [r for r in server.received if unquote(r.path).endswith(stamp)]


def test_a_held_update_never_delays_the_final_and_nothing_follows_a_final(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # The first request (an update) is held a minute; every other one is answered at once.
    server = ScriptedEndpoint(lambda n: ("stall", 60.0) if n == 1 else ("status", (200, {}))).start()
    spec = updating_profile(server.url)
    updating = FeedProfile.model_validate(spec)
    finals_only = FeedProfile.model_validate({**spec, "provisional": None})
    run = DispatchRun(kafka_bootstrap, tmp_path, [spec])
    first, second, third = START_MS, START_MS + QUARTER, START_MS + 2 * QUARTER
    try:
        run.start()
        run.produce_updates([interval(updating, first, 2, update=1)])
        wait_until(lambda: len(server.received) == 1, 30, "the first update to reach the server")
        run.produce([final_first := interval(updating, first, 3)])
        produced = time.monotonic()
        wait_until(lambda: len(server.received) == 2, 30, "the final of 08:00")
        assert server.received[1].at - produced < 5, "the final did not wait for the held update"
        assert PROVISIONAL not in server.received[1].headers

        # 08:15: two updates read together (the newer supersedes), then its marker and final;
        # an update of 08:00 written before its final and read after it is not sent.
        run.produce_updates(
            [
                interval(updating, second, 1, update=1),
                interval(updating, second, 4, update=2),
                interval(updating, first, 2, update=2),
            ]
        )
        wait_until(
            lambda: any(PROVISIONAL in r.headers for r in story(server, second)), 30, "an update of 08:15"
        )
        run.produce_updates([("wfm", second)])
        run.produce([final_second := interval(updating, second, 5)])
        # 08:30: an update read long after it was written (a restart, a backlog) is stale.
        run.produce_updates(
            [interval(updating, third, 1, update=1)], written_ms=int(time.time() * 1000) - 2 * EVERY_MS
        )
        run.wait_outcomes(2)
        time.sleep(1.0)

        assert [r.headers.get(PROVISIONAL) for r in story(server, first)] == ["1", None]
        kinds = [r.headers.get(PROVISIONAL) for r in story(server, second)]
        assert kinds[-1] is None and kinds.count(None) == 1, "the final of 08:15 is its last request"
        numbers = [int(k or 0) for k in kinds[:-1]]
        assert numbers == sorted(numbers) and numbers[-1] == 2
        assert story(server, third) == [], "a stale update is not sent"

        for final, received in (
            (final_first, story(server, first)[-1]),
            (final_second, story(server, second)[-1]),
        ):
            assert received.body == render(finals_only, final).body, (
                "the final, byte for byte, as without updates"
            )
        update_bodies = [orjson.loads(r.body) for r in server.received if PROVISIONAL in r.headers]
        assert all(b["provisional"]["update"] >= 1 for b in update_bodies)
        keys = [r.headers["Idempotency-Key"] for r in server.received]
        assert len(set(keys)) == len(keys), "every update and every final its own key"
        assert [o["revision"] for o in run.outcomes()] == [1, 1], "the ledger holds the finals only"
    finally:
        run.cleanup()
        server.close()
