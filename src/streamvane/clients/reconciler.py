"""Continuous reconciliation: every feed record is judged against Genesys' own figures once they
have settled, beside the dispatcher (``genesys.reconcile_continuously``).

- Reads the feed-record topic in its own consumer group (``<dispatcher group>-reconcile``), so it
  neither slows delivery nor loses its place on a restart: an offset is committed only once the
  reports of that record and every earlier one are stored (records superseded by a later
  revision of their interval count as finished).
- Waits until an interval's scheduled close (end + grace) plus ``genesys.reconcile_after_s``
  (:class:`~streamvane.feeds.reconcile_schedule.ReconcileSchedule`), then fetches the due
  intervals of each profile in one ranged query and judges each record with the profile's
  tolerances (:func:`~streamvane.feeds.reconcile.reconcile`).
- Each judgement goes to the reconciliation topic as JSON (:func:`interval_report`), keyed
  ``profile|interval start``; it counts in ``streamvane_reconciliation_cells_total{profile,
  verdict}`` and sets ``streamvane_reconciliation_max_relative_deviation{profile,field}``; an
  interval out of tolerance is logged with the cells that failed.
- A Genesys failure is logged and counted (``streamvane_reconciliation_errors_total``); the
  intervals are tried again after ``retry_s``.

``now_ms`` and ``sleep`` are injected; Kafka is real (confluent-kafka, in an executor thread).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
import orjson
from confluent_kafka import Consumer, Message

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.producer import OutputProducer
from streamvane.clients.genesys_analytics import GenesysAnalytics, GenesysApiError
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.reconcile import (
    interval_report,
    parse_aggregates,
    reconcile,
    records_as_cells,
)
from streamvane.feeds.reconcile_schedule import ReconcileSchedule
from streamvane.records.avro import AvroCodec, UnknownSchemaError
from streamvane.records.feed_record import FeedRecord
from streamvane.settings import GenesysSettings
from streamvane.sinks.delivery import now_ms as wall_ms
from streamvane.sinks.feed_reader import commit_finished, feed_consumer, fetch_available
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.offsets import OffsetTracker
from streamvane.sinks.sender import fingerprint_of

log = logging.getLogger("streamvane.reconcile")
Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ReconcilerConfig:
    kafka: KafkaConnection
    feed_topic: str
    report_topic: str
    group_id: str
    settle_ms: int
    retry_s: float = 60.0
    commit_interval_s: float = 1.0


class ContinuousReconciler:
    def __init__(
        self,
        config: ReconcilerConfig,
        genesys: GenesysSettings,
        profiles: Sequence[FeedProfile],
        metrics: DispatcherMetrics,
        now_ms: Callable[[], int] = wall_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config, self.genesys, self.metrics = config, genesys, metrics
        self.profiles = {p.id: p for p in profiles}
        self.now_ms, self.sleep = now_ms, sleep
        self.schedule: ReconcileSchedule[Position] = ReconcileSchedule(config.settle_ms)
        self.tracker = OffsetTracker()
        self.codec = AvroCodec()
        self.reconciled = 0

    async def run(self, stop: asyncio.Event) -> None:
        c = self.config
        consumer = feed_consumer(c.kafka, c.group_id, c.feed_topic)
        producer = OutputProducer(c.kafka)
        loop = asyncio.get_running_loop()
        last_commit = time.monotonic()
        async with aiohttp.ClientSession() as session:
            client = GenesysAnalytics(self.genesys, session, sleep=self.sleep)
            try:
                while not stop.is_set():
                    for msg in await loop.run_in_executor(None, fetch_available, consumer):
                        self._accept(msg)
                    await self._reconcile_due(client, producer)
                    producer.poll(0)
                    if time.monotonic() - last_commit >= c.commit_interval_s:
                        await loop.run_in_executor(None, self._commit, consumer)
                        last_commit = time.monotonic()
            finally:
                await loop.run_in_executor(None, producer.flush_now, 30)
                await loop.run_in_executor(None, self._commit, consumer)
                await loop.run_in_executor(None, consumer.close)

    def _accept(self, msg: Message) -> None:
        if msg.error() is not None:
            log.warning("reconcile consumer: %s", msg.error())
            return
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        self.tracker.started(partition, offset)
        try:
            record = self.codec.decode(msg.value() or b"", fingerprint_of(msg.headers()))  # type: ignore[arg-type]
        except (UnknownSchemaError, ValueError, EOFError, TypeError) as exc:
            log.error("reconcile: undecodable feed record at %d/%d skipped: %s", partition, offset, exc)
            self.tracker.finished(partition, offset)
            return
        profile = self.profiles.get(record.profile_id)
        if profile is None:
            self.tracker.finished(partition, offset)
            return
        replaced = self.schedule.add(record, (partition, offset), profile.grace_ms)
        if replaced is not None:
            self.tracker.finished(*replaced)

    async def _reconcile_due(self, client: GenesysAnalytics, producer: OutputProducer) -> None:
        """Judge every due record; when Genesys fails, its records wait ``retry_s``."""
        due = self.schedule.due(self.now_ms())
        by_profile: dict[str, list[tuple[FeedRecord, Position]]] = {}
        for record, position in due:
            by_profile.setdefault(record.profile_id, []).append((record, position))
        for profile_id, items in by_profile.items():
            profile = self.profiles[profile_id]
            start = min(r.interval_start_ms for r, _ in items)
            end = max(r.interval_end_ms for r, _ in items)
            try:
                theirs = parse_aggregates(await client.aggregates(profile, start, end))
            except (GenesysApiError, ValueError) as exc:
                self.metrics.reconciliation_errors.labels(profile_id).inc()
                log.error("reconcile: %s %d intervals: %s (retrying later)", profile_id, len(items), exc)
                retry_ms = self.now_ms() + round(self.config.retry_s * 1000)
                for record, position in items:
                    self.schedule.at(record, position, retry_ms)
                continue
            for record, position in items:
                self._judge(profile, record, theirs, position, producer)

    def _judge(
        self,
        profile: FeedProfile,
        record: FeedRecord,
        theirs: dict[tuple[int, int, str, str], dict[str, tuple[int, int, int, int]]],
        position: Position,
        producer: OutputProducer,
    ) -> None:
        cells = reconcile(
            profile,
            records_as_cells([record], profile.id),
            theirs,
            record.interval_start_ms,
            record.interval_end_ms,
        )
        report = interval_report(record, cells, self.now_ms())
        for verdict in ("ok", "out"):
            if report[verdict]:
                self.metrics.reconciliation_cells.labels(profile.id, verdict).inc(report[verdict])
        for field, deviation in report["largestRelativeDeviation"].items():
            self.metrics.reconciliation_deviation.labels(profile.id, field).set(deviation)
        if report["verdict"] == "out":
            failed = "; ".join(
                f"{c['queue_id']}/{c['media_type']} {c['field']}: ours {c['ours']} theirs {c['theirs']} "
                f"(allowed ±{c['tolerance']:.3g})"
                for c in report["outCells"][:10]
            )
            log.warning(
                "reconcile: %s %s revision %d OUT of tolerance in %d cells: %s",
                profile.id,
                report["interval"],
                record.revision,
                report["out"],
                failed,
            )

        def stored(ok: bool) -> None:
            if ok:
                self.tracker.finished(*position)
                self.reconciled += 1

        producer.produce(
            self.config.report_topic,
            orjson.dumps(report),
            record.compaction_key.encode(),
            on_ack=stored,
        )

    def _commit(self, consumer: Consumer) -> None:
        commit_finished(consumer, self.config.feed_topic, self.tracker)
