"""The dispatcher process: feed-record topic → one ordered lane per profile → HTTP → ledger/DLQ.

- Reads with a confluent-kafka consumer (manual commits, from the earliest offset on a new group).
- Each profile has its own lane (an asyncio queue and task), so within a profile intervals go out
  in topic order (the feed-record topic has one partition, written in emission order), while a
  slow or failing endpoint only holds its own lane.
- Kafka's offset is committed only when the outcome of that record and of every earlier one is
  acknowledged by the broker (:class:`~streamvane.sinks.offsets.OffsetTracker`). Each profile's own
  position is kept in the compacted progress topic (:mod:`streamvane.sinks.progress`), so after a
  restart a record whose outcome a profile already recorded is not sent again, however far back
  another profile holds Kafka's offset. A crash re-sends only unfinished records, with the same
  idempotency keys; nothing is lost.
- A lane that stops for any reason other than shutdown is a bug: the dispatcher stops with it
  (the process exits non-zero, for Kubernetes to restart), rather than stall one profile silently.
- At start, every file and secret a profile names is checked and each problem logged; such a
  profile's records are dead-lettered as ``config-error``, without retries.
- With provisional updates in any profile, the same consumer reads the provisional topic too (so
  one dispatcher of the group has both), and updates go out beside the lanes, best effort and
  never in a final's way (:mod:`streamvane.sinks.provisional`); its position is committed as read.
Assumes one active dispatcher per group (the topic has one partition; others stand by).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.producer import OutputProducer
from streamvane.broker.topic_reader import read_to_end
from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.profile_files import profile_problems
from streamvane.records.avro import AvroCodec, UnknownSchemaError
from streamvane.records.feed_record import FeedRecord, parse_compaction_key
from streamvane.sinks.delivery import http_session, now_ms
from streamvane.sinks.feed_reader import commit_finished, feed_consumer, fetch_available
from streamvane.sinks.ledger import Subject
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.offsets import OffsetTracker
from streamvane.sinks.outcome import Outcome
from streamvane.sinks.progress import ProfileProgress, progress_key
from streamvane.sinks.provisional import ProvisionalDispatch
from streamvane.sinks.sender import Acked, Done, Original, RecordSender, Topics, fingerprint_of

log = logging.getLogger("streamvane.dispatcher")


class LaneCrashedError(RuntimeError):
    """A profile's lane ended with an exception: a bug; the dispatcher stops."""


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    kafka: KafkaConnection
    feed_topic: str
    topics: Topics
    group_id: str
    progress_topic: str = ""
    commit_interval_s: float = 0.5
    max_pending: int = 10_000
    session_timeout_s: float = 10.0
    on_time_window_ms: int = 86_400_000
    origin_limits: Mapping[str, int] = field(default_factory=dict)
    provisional_topic: str = ""


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
        self.provisional_codec = AvroCodec("provisional_record")
        self.provisional = ProvisionalDispatch(
            self.profiles,
            lambda update, deadline_ms: self.sender.send_update(update, deadline_ms),
            self.metrics,
        )
        self._provisional_read: int | None = None
        self.tracker = OffsetTracker()
        self.progress: dict[str, ProfileProgress] = {}
        self.skipped = 0
        self._lanes: dict[str, asyncio.Queue[tuple[_Item, FeedRecord]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._producer: OutputProducer | None = None
        self.assigned = False
        self.resumed = False

    def waiting_for(self) -> str | None:
        """Why the dispatcher is not ready yet, or None (for ``/readyz``): profiles are loaded at
        construction; it waits for its per-profile positions and a partition assignment."""
        if not self.resumed:
            return "reading per-profile progress"
        if not self.assigned:
            return "no feed-topic partition assigned (is Kafka reachable?)"
        return None

    async def run(self, stop: asyncio.Event) -> None:
        c = self.config
        for profile in self.profiles:
            for problem in profile_problems(profile, check_secrets=True):
                log.error(
                    "profile %s: %s: its records will be dead-lettered as config-error", profile.id, problem
                )
        loop = asyncio.get_running_loop()
        self.progress = await loop.run_in_executor(None, self._read_progress)
        self.resumed = True
        updates = c.provisional_topic if any(p.provisional for p in self.profiles) else ""
        topics = [c.feed_topic, updates] if updates else [c.feed_topic]
        consumer = feed_consumer(c.kafka, c.group_id, topics, c.session_timeout_s, self._on_assign)
        producer = self._producer = OutputProducer(c.kafka)
        async with http_session() as session:
            self.sender = RecordSender(
                self.profiles,
                producer,
                c.topics,
                session,
                self.metrics,
                "dispatch",
                c.on_time_window_ms,
                c.origin_limits,
            )
            poller = asyncio.create_task(self._poll_producer(producer))
            last_commit = time.monotonic()
            try:
                while not stop.is_set():
                    self._check_lanes()
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
                await self.provisional.close()
                for task in self._tasks.values():
                    task.cancel()
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
                await loop.run_in_executor(None, producer.flush_now, 30)
                poller.cancel()
                await asyncio.gather(poller, return_exceptions=True)
                await loop.run_in_executor(None, self._commit, consumer)
                await loop.run_in_executor(None, consumer.close)

    def _read_progress(self) -> dict[str, ProfileProgress]:
        """Each profile's position as the last run left it (empty without a progress topic)."""
        out: dict[str, ProfileProgress] = {p.id: ProfileProgress() for p in self.profiles}
        if not self.config.progress_topic:
            return out
        keys = {progress_key(self.config.group_id, p.id): p.id for p in self.profiles}
        for msg in read_to_end(self.config.kafka, self.config.progress_topic):
            profile_id = keys.get(msg.key() or b"")
            if profile_id is not None and msg.value():
                out[profile_id] = ProfileProgress.decode(msg.value() or b"{}")
        resumed = {pid: p.next for pid, p in out.items() if p.next}
        if resumed:
            log.info("resuming per-profile positions %s", resumed)
        return out

    def _write_progress(self, profile_id: str) -> Acked:
        """Write the profile's position; the returned handle is set once the broker stored it."""
        stored = Acked()
        if self.config.progress_topic and self._producer is not None:
            state = self.progress[profile_id]
            key = progress_key(self.config.group_id, profile_id)
            self._producer.produce(self.config.progress_topic, state.encode(), key, on_ack=stored.set)
        else:
            stored.set(True)
        return stored

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned = bool(partitions)

    def _check_lanes(self) -> None:
        for profile_id, task in [*self._tasks.items(), *self.provisional.tasks().items()]:
            if task.done():
                error = task.exception() if not task.cancelled() else None
                log.critical("the lane of profile %s stopped: %r; the dispatcher stops", profile_id, error)
                raise LaneCrashedError(f"lane {profile_id} stopped: {error!r}") from error

    def _commit(self, consumer: Consumer) -> None:
        commit_finished(consumer, self.config.feed_topic, self.tracker)
        if self._provisional_read is not None:
            read = TopicPartition(self.config.provisional_topic, 0, self._provisional_read)
            self._provisional_read = None
            try:
                consumer.commit(offsets=[read], asynchronous=False)
            except KafkaException as exc:  # e.g. the partition moved in a rebalance
                log.info("provisional position not committed: %s", exc)
        for tp in consumer.position(consumer.assignment()):
            _, high = consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset >= 0 and high >= 0:
                lag = self.metrics.consumer_lag.labels(self.config.group_id, tp.topic, str(tp.partition))
                lag.set(max(0, high - tp.offset))

    async def _poll_producer(self, producer: OutputProducer) -> None:
        while True:
            producer.poll(0)
            await asyncio.sleep(0.01)

    def _accept(self, msg: Message) -> None:
        if msg.error() is not None:
            log.warning("consumer: %s", msg.error())
            return
        if msg.topic() == self.config.provisional_topic:
            self._accept_update(msg)
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
            outcome = Outcome(Result.UNDECODABLE, finished_ms=now_ms())
            self.sender.finish(subject, outcome, str(exc), item.original, self._done(item, None))
            return
        progress = self.progress.setdefault(record.profile_id, ProfileProgress())
        self.provisional.final_known(record.profile_id, record.interval_start_ms)
        if progress.done_before(partition, offset):
            self.skipped += 1
            self.tracker.finished(partition, offset)
            return
        progress.started(partition, offset)
        lane = self._lanes.get(record.profile_id)
        if lane is None:
            lane = self._lanes[record.profile_id] = asyncio.Queue()
            self._tasks[record.profile_id] = asyncio.create_task(self._run_lane(record.profile_id, lane))
        self.provisional.final_queued(record.profile_id)
        lane.put_nowait((item, record))

    def _accept_update(self, msg: Message) -> None:
        """A provisional update, or the empty marker of an interval whose final was emitted."""
        offset = msg.offset()
        assert offset is not None
        self._provisional_read = offset + 1
        value, key = msg.value(), (msg.key() or b"").decode("utf-8", "replace")
        if not value:
            found = parse_compaction_key(key)
            if found is not None:
                self.provisional.final_known(*found)
            return
        try:
            update = self.provisional_codec.decode(value, fingerprint_of(msg.headers()))  # type: ignore[arg-type]
        except (UnknownSchemaError, ValueError, EOFError, TypeError) as exc:
            log.error("undecodable provisional update %s at offset %d: %s (skipped)", key, offset, exc)
            return
        _, timestamp = msg.timestamp()
        self.provisional.accept(update, timestamp if timestamp > 0 else now_ms())

    def _done(self, item: _Item, profile_id: str | None) -> Done:
        def done(ok: bool) -> None:
            if not ok:
                return
            self.tracker.finished(item.partition, item.offset)
            if profile_id is not None and self.progress[profile_id].finished(item.partition, item.offset):
                self._write_progress(profile_id)

        return done

    async def _run_lane(self, profile_id: str, lane: asyncio.Queue[tuple[_Item, FeedRecord]]) -> None:
        progress = self.progress[profile_id]
        while True:
            item, record = await lane.get()

            async def started(number: int, _started_ms: int, item: _Item = item) -> None:
                progress.attempt(item.partition, item.offset, number)
                await self._write_progress(profile_id).wait()

            try:
                await self.sender.send(
                    record,
                    item.original,
                    item.close_ms,
                    None,
                    self._done(item, profile_id),
                    first_number=progress.prior_attempts(item.partition, item.offset) + 1,
                    on_start=started,
                )
            finally:
                self.provisional.final_done(profile_id)
