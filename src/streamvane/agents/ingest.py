"""Stage 1's shell: a confluent-kafka batch consumer, in its own consumer group
(``<app_id>-ingest``), run as a task of the worker.

Why not a Faust agent: Faust pays about 80 µs of CPU per input record before an agent sees it
(``shared/docs/throughput-notes.md``). Here librdkafka fetches in C and a batch is handled in one
call of the pure :class:`~streamvane.stages.ingest.IngestStage`, on a thread of its own (the
consumer, and its own producer, are used from that one thread only), off the event loop the agents run on.

Each batch: consume, parse and bundle, produce the bundles and the quarantine, **flush**, then
**commit** the input offsets — at-least-once; a bundle re-sent after a crash is harmless
(correlate de-duplicates events). The ticker runs in the same loop: an assigned input partition
read up to its high watermark is idle, and its watermark moves to the wall clock minus the
maximum delivery delay (never a busy one's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaException, TopicPartition

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.producer import OutputProducer
from streamvane.settings import Settings
from streamvane.stages.ingest import IngestResult, IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.topology.app import Topology, bundle_headers
from streamvane.topology.metrics import WorkerMetrics

log = logging.getLogger(__name__)


def consumer_config(settings: Settings, kafka: KafkaConnection) -> dict[str, Any]:
    worker = settings.worker
    config: dict[str, Any] = {
        **kafka.config(),
        "group.id": settings.ingest_group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": int(worker.session_timeout_s * 1000),
        "max.partition.fetch.bytes": worker.ingest_partition_fetch_bytes,
        "fetch.max.bytes": worker.max_fetch_bytes,
    }
    if worker.instance_id:
        config["group.instance.id"] = f"{worker.instance_id}-ingest"
    return config


class IngestLoop:
    """One consumer, one thread. The consumer and producer are confluent-kafka's (fakes in unit
    tests); ``clock`` gives epoch ms."""

    def __init__(
        self,
        settings: Settings,
        input_partitions: int,
        metrics: WorkerMetrics,
        consumer: Any,
        output: OutputProducer,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        worker = settings.worker
        self.settings, self.metrics = settings, metrics
        self.consumer, self.output, self.clock = consumer, output, clock
        self.topic = settings.topics.events
        self.stage = IngestStage(
            settings.kpi.event_parser(),
            settings.kafka.partitions,
            InputProgress(input_partitions, settings.kpi.reorder_tolerance_ms),
            self.topic,
            worker.max_bundle_bytes,
        )
        self.next_tick_ms = 0

    def step(self) -> int:
        """One batch (possibly empty), then a tick when one is due; how many records were read."""
        worker = self.settings.worker
        messages = self.consumer.consume(num_messages=worker.ingest_batch_size, timeout=worker.batch_within_s)
        records = [self._record(m) for m in messages]
        if records:
            result = self.stage.process(records, self.clock())
            self._publish(result)
            read_up_to = {r.partition: r.offset + 1 for r in records}  # offsets ascend per partition
            self.consumer.commit(
                offsets=[TopicPartition(self.topic, p, o) for p, o in sorted(read_up_to.items())],
                asynchronous=False,
            )
        if worker.ticks_enabled and self.clock() >= self.next_tick_ms:
            self.next_tick_ms = self.clock() + int(worker.tick_interval_s * 1000)
            self.tick()
        return len(records)

    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Say so when the group's position in an input partition is no longer held: Kafka's
        retention (or a deletion) removed records this app had not read, the consumer resumes at
        the earliest one still there, and the events in between never reach the KPIs. A replay
        reset to a time older than the topic's history hits this too."""
        committed = consumer.committed(partitions, timeout=10)
        for tp in committed:
            if tp.offset < 0:
                continue
            low, _ = consumer.get_watermark_offsets(tp, timeout=10)
            if tp.offset < low:
                self.metrics.history_lost.inc(low - tp.offset)
                log.error(
                    "input %s/%d: the group's position %d is no longer held (the topic keeps records "
                    "from %d on): %d events were deleted before this app read them and are not in its KPIs",
                    tp.topic,
                    tp.partition,
                    tp.offset,
                    low,
                    low - tp.offset,
                )

    def tick(self) -> None:
        """Advance this consumer's idle input partitions; publish a marker when any moved."""
        idle_at = self.clock() - self.settings.worker.max_delivery_delay_ms
        advanced = False
        for tp in self.consumer.assignment():
            low, high = self.consumer.get_watermark_offsets(tp, timeout=5.0)
            position = self.consumer.position([tp])[0].offset  # negative: nothing read yet
            if position < 0:
                committed = self.consumer.committed([tp], timeout=5.0)[0].offset
                position = committed if committed >= 0 else low
            lag = max(0, high - position)
            self.metrics.consumer_lag.labels(self.settings.ingest_group, tp.topic, str(tp.partition)).set(lag)
            if position >= high:
                self.stage.progress.idle(tp.partition, idle_at)
                advanced = True
        if advanced:
            for partition, bundle in self.stage.marker_bundles():
                self.output.produce(self.settings.keyed_topic, bundle, None, bundle_headers(), partition)
            self.output.flush_or_raise()

    def _record(self, message: Any) -> SourceRecord:
        error = message.error()
        if error is not None:
            raise KafkaException(error)
        kind, timestamp = message.timestamp()
        return SourceRecord(
            message.value(),
            message.key(),
            message.partition(),
            message.offset(),
            None if kind == TIMESTAMP_NOT_AVAILABLE else timestamp,
        )

    def _publish(self, result: IngestResult) -> None:
        settings, output, metrics = self.settings, self.output, self.metrics
        for partition, bundle in result.bundles:
            output.produce(settings.keyed_topic, bundle, None, bundle_headers(), partition)
        for q in result.quarantined:
            output.produce(settings.topics.quarantine, q.value, q.key, q.headers)
            metrics.quarantined.labels(q.reason).inc()
            log.warning(
                "quarantined reason=%s source=%s", q.reason, dict(q.headers).get("source", b"").decode()
            )
        output.flush_or_raise()
        metrics.events_in.inc(sum(result.read.values()))
        metrics.bundles.inc(len(result.bundles))


def register(topology: Topology) -> None:
    """Run ingest as a task of the worker: it starts and stops with it, and an error in it
    crashes the worker (restarted by its supervisor) instead of silently stopping ingest."""

    @topology.app.task  # type: ignore[untyped-decorator]
    async def ingest() -> None:
        executor = ThreadPoolExecutor(1, thread_name_prefix="streamvane-ingest")
        loop = asyncio.get_running_loop()
        settings = topology.settings
        consumer = await loop.run_in_executor(executor, Consumer, consumer_config(settings, topology.kafka))
        try:
            output = OutputProducer(topology.kafka)
            ingest_loop = IngestLoop(settings, topology.input_partitions, topology.metrics, consumer, output)
            subscribe = partial(consumer.subscribe, [settings.topics.events], on_assign=ingest_loop.on_assign)
            await loop.run_in_executor(executor, subscribe)
            while True:
                await loop.run_in_executor(executor, ingest_loop.step)
        finally:
            executor.submit(consumer.close).result(timeout=30)
            executor.shutdown(wait=False)
