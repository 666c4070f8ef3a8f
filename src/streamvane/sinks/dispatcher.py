"""The dispatcher process: feed-record topic → one ordered lane per profile → HTTP → ledger/DLQ.

- Reads with a confluent-kafka consumer (manual commits, from the earliest offset on a new group).
- Each profile has its own lane (an asyncio queue and task), so within a profile intervals go out
  in topic order (the feed-record topic has one partition, written in emission order), while a
  slow or failing endpoint only holds its own lanes; each origin has its own concurrency limit.
- An offset is committed only when the outcome of that record and of every earlier one is
  acknowledged by the broker (:class:`~streamvane.sinks.offsets.OffsetTracker`). A crash re-sends
  unfinished records with the same idempotency keys; nothing is lost.
Assumes one active dispatcher per group (the topic has one partition; others stand by).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, Message

from streamvane.feeds.profile import FeedProfile
from streamvane.records.avro import AvroCodec, UnknownSchemaError
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.delivery import Outcome, http_session, now_ms
from streamvane.sinks.feed_reader import commit_finished, feed_consumer, fetch_available
from streamvane.sinks.ledger import Subject
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.offsets import OffsetTracker
from streamvane.sinks.sender import Done, Original, RecordSender, Topics, fingerprint_of
from streamvane.topology.output import OutputProducer

log = logging.getLogger("streamvane.dispatcher")


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    bootstrap: str
    feed_topic: str
    topics: Topics
    group_id: str
    commit_interval_s: float = 0.5
    max_pending: int = 10_000
    session_timeout_s: float = 10.0
    on_time_window_ms: int = 86_400_000


@dataclass(frozen=True, slots=True)
class _Item:
    partition: int
    offset: int
    original: Original
    close_ms: int


class Dispatcher:
    def __init__(
        self,
        config: DispatcherConfig,
        profiles: Sequence[FeedProfile],
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self.config = config
        self.profiles = tuple(profiles)
        self.metrics = metrics or DispatcherMetrics()
        self.codec = AvroCodec()
        self.tracker = OffsetTracker()
        self._lanes: dict[str, asyncio.Queue[tuple[_Item, FeedRecord]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event) -> None:
        c = self.config
        consumer = feed_consumer(c.bootstrap, c.group_id, c.feed_topic, c.session_timeout_s)
        producer = OutputProducer(c.bootstrap)
        loop = asyncio.get_running_loop()
        async with http_session() as session:
            self.sender = RecordSender(
                self.profiles,
                producer,
                c.topics,
                session,
                self.metrics,
                on_time_window_ms=c.on_time_window_ms,
            )
            poller = asyncio.create_task(self._poll_producer(producer))
            last_commit = time.monotonic()
            try:
                while not stop.is_set():
                    if self.tracker.in_flight >= c.max_pending:
                        await asyncio.sleep(0.02)
                    else:
                        messages = await loop.run_in_executor(None, fetch_available, consumer)
                        for msg in messages:
                            self._accept(msg)
                    self.metrics.in_flight.set(self.tracker.in_flight)
                    if time.monotonic() - last_commit >= c.commit_interval_s:
                        await loop.run_in_executor(None, self._commit, consumer)
                        last_commit = time.monotonic()
            finally:
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await loop.run_in_executor(None, producer.flush_now, 30)
                poller.cancel()
                await asyncio.gather(poller, return_exceptions=True)
                await loop.run_in_executor(None, self._commit, consumer)
                await loop.run_in_executor(None, consumer.close)

    def _commit(self, consumer: Consumer) -> None:
        commit_finished(consumer, self.config.feed_topic, self.tracker)

    async def _poll_producer(self, producer: OutputProducer) -> None:
        while True:
            producer.poll(0)
            await asyncio.sleep(0.01)

    def _accept(self, msg: Message) -> None:
        if msg.error() is not None:
            log.warning("consumer: %s", msg.error())
            return
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        _, timestamp = msg.timestamp()
        original = Original(msg.value() or b"", fingerprint_of(msg.headers()))  # type: ignore[arg-type]
        item = _Item(partition, offset, original, timestamp if timestamp > 0 else now_ms())
        self.tracker.started(partition, offset)
        try:
            record = self.codec.decode(original.raw, original.fingerprint)
        except (UnknownSchemaError, ValueError, EOFError, TypeError) as exc:
            log.error("undecodable feed record at %d/%d: %s", partition, offset, exc)
            subject = Subject.unsent(item.close_ms, "dispatch")
            outcome = Outcome("undecodable", finished_ms=now_ms())
            self.sender.record_outcome(subject, outcome, str(exc), item.original, self._done(item))
            return
        lane = self._lanes.get(record.profile_id)
        if lane is None:
            lane = self._lanes[record.profile_id] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._run_lane(lane)))
        lane.put_nowait((item, record))

    def _done(self, item: _Item) -> Done:
        def done(ok: bool) -> None:
            if ok:
                self.tracker.finished(item.partition, item.offset)

        return done

    async def _run_lane(self, lane: asyncio.Queue[tuple[_Item, FeedRecord]]) -> None:
        while True:
            item, record = await lane.get()
            await self.sender.send(record, item.original, item.close_ms, None, self._done(item))
