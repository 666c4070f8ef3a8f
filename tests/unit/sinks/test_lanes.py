"""A lane that stops with an error is a bug: the dispatcher stops with it instead of stalling one
profile silently."""

from __future__ import annotations

import asyncio

import pytest

from streamvane.sinks.dispatcher import Dispatcher, DispatcherConfig, LaneCrashedError
from streamvane.sinks.sender import Topics


def test_a_crashed_lane_stops_the_dispatcher() -> None:
    dispatcher = Dispatcher(DispatcherConfig("127.0.0.1:1", "feed", Topics("ledger", "dlq"), "group"), [])

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
