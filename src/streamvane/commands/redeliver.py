"""Sending given feed records once more, outside the dispatcher: what ``replay deliver`` and
``dlq redrive`` share. Same rendering, same idempotency keys, same ledger trail (``source``
tells them apart); the delivery deadline counts from now. Prints one line per interval.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

from streamvane.commands.progress import Progress
from streamvane.feeds.render import utc_iso
from streamvane.records.feed_record import FeedRecord
from streamvane.settings import Settings
from streamvane.sinks.delivery import http_session
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.sender import Original, RecordSender, Topics
from streamvane.topology.output import OutputProducer


def redeliver(
    settings: Settings,
    items: Sequence[tuple[FeedRecord, Original]],
    source: str,
    dry_run: bool,
    after_each: Callable[[int, bool], None] | None = None,
) -> int:
    """Exit status 0 when every record was delivered (or, dry run, would be attempted)."""
    if dry_run:
        for record, _ in items:
            sys.stdout.write(
                f"would deliver {record.profile_id} {utc_iso(record.interval_start_ms)} "
                f"revision {record.revision} key {record.idempotency_key}\n"
            )
        return 0
    return asyncio.run(_send_all(settings, items, source, after_each))


async def _send_all(
    settings: Settings,
    items: Sequence[tuple[FeedRecord, Original]],
    source: str,
    after_each: Callable[[int, bool], None] | None,
) -> int:
    producer = OutputProducer(settings.kafka.bootstrap_servers)
    topics = Topics(settings.topics.delivery_ledger, settings.topics.dead_letter)
    results: Counter[str] = Counter()
    progress = Progress(f"{source}: intervals sent")
    async with http_session() as session:
        sender = RecordSender(settings.profiles, producer, topics, session, DispatcherMetrics(), source)
        for index, (record, original) in enumerate(items):
            recorded: list[bool] = []
            now = time.time_ns() // 1_000_000
            result = await sender.send(record, original, now, None, recorded.append)
            while not recorded:
                producer.poll(0.05)
            results[result] += 1
            sys.stdout.write(
                f"{result:<17} {record.profile_id} {utc_iso(record.interval_start_ms)} "
                f"revision {record.revision} key {record.idempotency_key}\n"
            )
            sys.stdout.flush()
            if after_each is not None:
                after_each(index, recorded[0])
            progress.update(index + 1, len(items))
    producer.flush_now(30)
    sys.stderr.write(f"{source}: {dict(results)}\n")
    return 0 if results["delivered"] == len(items) else 1
