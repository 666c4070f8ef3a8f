"""Sending given feed records once more, outside the dispatcher: what ``replay deliver`` and
``dlq redrive`` share. Same rendering, same idempotency keys, same ledger trail (``source``
tells them apart). Prints one line per interval.

- **Lanes.** Each profile's records go out in the given order, one lane per profile, and the
  lanes run in parallel: one stalled endpoint holds only its own profile.
- **Deadline.** Each record may be retried until ``deadline_s`` from its start (default: the
  profile's delivery deadline plus its margin, counted from now).
- **Stopping.** ``timeout_s`` bounds the whole run, and SIGINT/SIGTERM (C-c) stop it cleanly.
  Either way, a request in flight is abandoned, its record is left as it was (a dead letter stays
  waiting), everything already written is flushed, and a summary is printed. Exit 130 on C-c.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamvane.broker.connection import connect
from streamvane.broker.producer import OutputProducer
from streamvane.commands.progress import Progress
from streamvane.feeds.delivery_result import Result
from streamvane.feeds.render import utc_iso
from streamvane.records.feed_record import FeedRecord
from streamvane.settings import Settings
from streamvane.sinks.delivery import http_session
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.sender import Original, RecordSender, Topics

INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class Item:
    record: FeedRecord
    original: Original
    prior_attempts: int = 0  # attempts already made (a dead letter's), so counts continue


@dataclass(frozen=True, slots=True)
class Limits:
    deadline_s: float | None = None
    timeout_s: float | None = None


def redeliver(
    settings: Settings,
    items: Sequence[Item],
    source: str,
    dry_run: bool,
    limits: Limits = Limits(),
    after_each: Callable[[Item, Result], None] | None = None,
) -> int:
    """Exit status: 0 when every record was delivered (or, dry run, would be attempted); 1 when
    some were not; 130 when interrupted."""
    if dry_run:
        for item in items:
            r = item.record
            sys.stdout.write(
                f"would deliver {r.profile_id} {utc_iso(r.interval_start_ms)} revision {r.revision} "
                f"key {r.idempotency_key}\n"
            )
        return 0
    return asyncio.run(_send_all(settings, items, source, limits, after_each))


async def _send_all(
    settings: Settings,
    items: Sequence[Item],
    source: str,
    limits: Limits,
    after_each: Callable[[Item, Result], None] | None,
) -> int:
    producer = OutputProducer(connect(settings.kafka))
    topics = Topics(settings.topics.delivery_ledger, settings.topics.dead_letter)
    results: Counter[str] = Counter()
    progress = Progress(f"{source}: intervals sent")
    stop = asyncio.Event()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt)
    lanes: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        lanes[item.record.profile_id].append(item)
    async with http_session() as session:
        sender = RecordSender(settings.profiles, producer, topics, session, DispatcherMetrics(), source)

        async def lane(queue: list[Item]) -> None:
            for item in queue:
                if stop.is_set():
                    return
                recorded: asyncio.Future[bool] = loop.create_future()
                now = time.time_ns() // 1_000_000
                deadline = None if limits.deadline_s is None else now + round(limits.deadline_s * 1000)
                result = await sender.send(
                    item.record,
                    item.original,
                    now,
                    deadline,
                    recorded.set_result,
                    first_number=item.prior_attempts + 1,
                )
                stored = await recorded
                results[result] += 1
                r = item.record
                sys.stdout.write(
                    f"{result:<17} {r.profile_id} {utc_iso(r.interval_start_ms)} "
                    f"revision {r.revision} key {r.idempotency_key}\n"
                )
                sys.stdout.flush()
                if after_each is not None and stored:
                    after_each(item, result)
                progress.update(sum(results.values()), len(items))

        async def poll() -> None:
            while True:
                producer.poll(0)
                await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll())
        tasks = [asyncio.create_task(lane(queue)) for queue in lanes.values()]
        stopper = asyncio.create_task(stop.wait())
        deadline = None if limits.timeout_s is None else time.monotonic() + limits.timeout_s
        waiting: set[asyncio.Task[Any]] = {*tasks, stopper}
        while len(waiting) > 1 and not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            _, waiting = await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        for task in (*tasks, stopper, poller):
            task.cancel()
        await asyncio.gather(*tasks, stopper, poller, return_exceptions=True)
    producer.flush_now(30)
    left = len(items) - sum(results.values())
    sys.stderr.write(f"{source}: {dict(results)}")
    if left:
        why = "interrupted" if interrupted else "timed out"
        sys.stderr.write(f"; {why}: {left} not sent (left as they were)")
    sys.stderr.write("\n")
    if interrupted:
        return INTERRUPTED
    return 0 if results[Result.DELIVERED] == len(items) else 1
