"""Simulated events POSTed to ``streamvane ingest``, as an EventBridge API destination would:
``streamvane simulate --post URL`` and ``streamvane demo --via-http``.

Events go in NDJSON batches of up to ``batch`` events, paced by event time like
:func:`streamvane.commands.event_feed.produce_paced`: a batch leaves once it is full or the next
event is not due yet. 429 and 503 are retried after their ``Retry-After`` (and a refused
connection after a short backoff), as EventBridge retries; any other refusal stops the feed
with the endpoint's answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import aiohttp

from streamvane.commands.event_feed import Clock
from streamvane.errors import InputError
from streamvane.simulator.contact_center import Conversation
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec

RETRIED = frozenset({429, 502, 503, 504})


class PostRefusedError(InputError):
    """The endpoint refused a batch for good (a 4xx other than 429)."""


@dataclass
class PostTarget:
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    batch: int = 100
    max_wait_s: float = 120.0


async def post_batch(session: aiohttp.ClientSession, target: PostTarget, lines: list[bytes]) -> None:
    """One batch, stored by the endpoint (2xx), retrying what EventBridge would retry."""
    body = b"\n".join(lines) + b"\n"
    headers = {"Content-Type": "application/x-ndjson", **target.headers}
    deadline = time.monotonic() + target.max_wait_s
    delay = 0.2
    while True:
        try:
            async with session.post(target.url, data=body, headers=headers) as response:
                if response.status < 300:
                    return
                text = (await response.text())[:300]
                if response.status not in RETRIED:
                    raise PostRefusedError(f"{target.url} answered {response.status}: {text}")
                delay = float(response.headers.get("Retry-After", delay))
        except (aiohttp.ClientConnectionError, TimeoutError):
            delay = min(max(delay * 2, 0.2), 5.0)
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"{target.url} did not store a batch within {target.max_wait_s:g} s")
        await asyncio.sleep(delay)


async def post_paced(
    target: PostTarget,
    spec: SimulationSpec,
    conversations: list[Conversation],
    clock: Clock,
    stop: threading.Event | None = None,
) -> int:
    """POST the simulated events paced by ``clock``; the number posted."""
    posted = 0
    pending: list[bytes] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for at_ms, line in delivery(spec, conversations):
            if stop is not None and stop.is_set():
                break
            delay = (clock.wall_ms(at_ms) - time.time_ns() / 1e6) / 1000
            if pending and (len(pending) >= target.batch or delay > 0.05):
                await post_batch(session, target, pending)
                posted += len(pending)
                pending = []
                delay = (clock.wall_ms(at_ms) - time.time_ns() / 1e6) / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(line)
        if pending and not (stop is not None and stop.is_set()):
            await post_batch(session, target, pending)
            posted += len(pending)
    return posted
