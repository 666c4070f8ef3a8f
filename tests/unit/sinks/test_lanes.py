"""A lane that stops with an error is a bug: the dispatcher stops with it instead of stalling one
profile silently."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamvane.broker.connection import KafkaConnection
from streamvane.sinks.dispatcher import Dispatcher, DispatcherConfig, LaneCrashedError
from streamvane.sinks.sender import Topics


def test_a_crashed_lane_stops_the_dispatcher() -> None:
    dispatcher = Dispatcher(
        DispatcherConfig(KafkaConnection.plaintext("127.0.0.1:1"), "feed", Topics("ledger", "dlq"), "group"),
        [],
    )

    async def broken() -> None:
        raise KeyError("a bug")

    async def run() -> None:
        dispatcher._tasks["p"] = asyncio.create_task(broken())
        dispatcher._tasks["q"] = asyncio.create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
        with pytest.raises(LaneCrashedError, match=r"lane p stopped: KeyError\('a bug'\)"):
            dispatcher._check_lanes()
        dispatcher._tasks["q"].cancel()

    asyncio.run(run())


def test_each_profile_has_its_own_limit_and_shares_one_only_where_an_origin_is_capped() -> None:
    from streamvane.feeds.profile import FeedProfile
    from streamvane.sinks.metrics import DispatcherMetrics
    from streamvane.sinks.sender import RecordSender

    def on(host: str, profile_id: str) -> FeedProfile:
        return FeedProfile.model_validate(
            {
                "id": profile_id,
                "version": 1,
                "endpoint": {"url": f"https://{host}/{profile_id}", "max_in_flight": 2},
            }
        )

    profiles = [on("wfm.test", "a"), on("wfm.test", "b"), on("other.test", "c")]

    async def limits() -> list[object]:
        unused: Any = None  # endpoint() neither produces nor sends
        sender = RecordSender(
            profiles,
            unused,
            Topics("l", "d"),
            unused,
            DispatcherMetrics(),
            origin_limits={"https://wfm.test": 3},
        )
        a, b, c = (sender.endpoint(p) for p in profiles)
        assert a.limit is not b.limit and a.limit._value == 2
        assert a.origin_limit is not None and a.origin_limit is b.origin_limit and c.origin_limit is None
        return [a.origin_limit._value]

    assert asyncio.run(limits()) == [3]
