"""Delivering provisional updates: best effort, superseded, and never in a final's way.

- One pending update per profile interval: a newer one replaces an update not yet sent.
- An interval's final ends its updates. The final is known from the feed-record topic, or from
  the empty marker the assembler writes to the provisional topic after the interval's last
  update; from then on no update of it is sent, and one in flight is cancelled.
- Finals first: while a profile's lane holds a final (queued or being delivered; a restatement
  too), the profile's updates wait, and an update in flight is cancelled the moment a final is
  queued, so a final never waits for an update, not even for the endpoint's concurrency limit.
- An update is tried under the profile's retry policy until the next one is due (``every_ms``
  after it was written), then given up. It is owed to no one: no ledger entry, no dead letter
  (the ledger and the dead letters account for finals, which the contract promises); metrics
  count every outcome.
- An update read more than ``every_ms`` after it was written (after a restart, or behind a
  backlog) is stale, and skipped.
Updates of a profile go oldest interval first. Clock (epoch ms) and the send are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.delivery import now_ms
from streamvane.sinks.metrics import DispatcherMetrics

log = logging.getLogger("streamvane.dispatcher")
Send = Callable[[FeedRecord, int], Coroutine[Any, Any, Result]]
_FINALS_KEPT = 4096

# Outcomes besides a delivery Result
SUPERSEDED = "superseded"
STALE = "stale"
CANCELLED_FOR_FINAL = "cancelled-for-final"


@dataclass
class _Lane:
    every_ms: int
    pending: dict[int, tuple[FeedRecord, int]] = field(default_factory=dict)
    finals: set[int] = field(default_factory=set)
    finals_busy: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: tuple[int, asyncio.Task[Result]] | None = None
    task: asyncio.Task[None] | None = None


class ProvisionalDispatch:
    def __init__(
        self,
        profiles: Sequence[FeedProfile],
        send: Send,
        metrics: DispatcherMetrics,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.send, self.metrics, self.clock = send, metrics, clock
        self._lanes = {p.id: _Lane(p.provisional_every_ms) for p in profiles if p.provisional_every_ms}

    def accept(self, update: FeedRecord, written_ms: int) -> None:
        """An update read from the provisional topic (``written_ms``: its Kafka timestamp)."""
        lane = self._lane(update.profile_id)
        if lane is None:
            self._count(update.profile_id, "no-provisional-in-profile")
            return
        start = update.interval_start_ms
        if start in lane.finals:
            self._count(update.profile_id, SUPERSEDED)
            return
        known = lane.pending.get(start)
        if known is not None:
            if known[0].provisional >= update.provisional:
                return
            self._count(update.profile_id, SUPERSEDED)
        lane.pending[start] = (update, written_ms)
        lane.wake.set()

    def final_known(self, profile_id: str, start_ms: int) -> None:
        """The interval's final was read (or its marker): none of its updates goes any more."""
        lane = self._lanes.get(profile_id)
        if lane is None:
            return
        lane.finals.add(start_ms)
        if len(lane.finals) > _FINALS_KEPT:
            for old in sorted(lane.finals)[: _FINALS_KEPT // 2]:
                lane.finals.discard(old)
        if lane.pending.pop(start_ms, None) is not None:
            self._count(profile_id, SUPERSEDED)
        if lane.in_flight is not None and lane.in_flight[0] == start_ms:
            lane.in_flight[1].cancel()

    def final_queued(self, profile_id: str) -> None:
        """A final of the profile entered its lane: updates wait, and one in flight stops."""
        lane = self._lanes.get(profile_id)
        if lane is None:
            return
        lane.finals_busy += 1
        if lane.in_flight is not None:
            lane.in_flight[1].cancel()

    def final_done(self, profile_id: str) -> None:
        lane = self._lanes.get(profile_id)
        if lane is None:
            return
        lane.finals_busy -= 1
        if lane.finals_busy == 0:
            lane.wake.set()

    def tasks(self) -> dict[str, asyncio.Task[None]]:
        return {pid: lane.task for pid, lane in self._lanes.items() if lane.task is not None}

    async def close(self) -> None:
        tasks = list(self.tasks().values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _lane(self, profile_id: str) -> _Lane | None:
        """The profile's lane, its task started at its first update (None: no updates)."""
        lane = self._lanes.get(profile_id)
        if lane is not None and lane.task is None:
            lane.task = asyncio.create_task(self._run(profile_id, lane))
        return lane

    async def _run(self, profile_id: str, lane: _Lane) -> None:
        while True:
            await lane.wake.wait()
            lane.wake.clear()
            while lane.finals_busy == 0 and lane.pending:
                start = min(lane.pending)
                update, written_ms = lane.pending.pop(start)
                if self.clock() - written_ms > lane.every_ms:
                    self._count(profile_id, STALE)
                    continue
                await self._deliver(profile_id, lane, start, update, written_ms + lane.every_ms)

    async def _deliver(
        self, profile_id: str, lane: _Lane, start: int, update: FeedRecord, deadline: int
    ) -> None:
        sending = asyncio.create_task(self.send(update, deadline))
        lane.in_flight = (start, sending)
        try:
            await asyncio.wait({sending})
        finally:
            lane.in_flight = None
            if not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
        if sending.cancelled():
            self._count(profile_id, CANCELLED_FOR_FINAL)
            log.info(
                "provisional update %d of %s cancelled: its final comes first",
                update.provisional,
                update.compaction_key,
            )
            return
        self._count(profile_id, str(sending.result()))

    def _count(self, profile_id: str, outcome: str) -> None:
        self.metrics.provisional_outcomes.labels(profile_id, outcome).inc()
