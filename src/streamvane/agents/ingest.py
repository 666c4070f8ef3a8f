"""Stage 1: raw Genesys events → parsed and re-keyed by conversationId, or quarantined.

A bridge may produce unkeyed records; everything downstream needs a conversation's events in
one partition, so each valid event is forwarded (original bytes) keyed by its conversationId,
with the source record's timestamp: it is when the event was received, which bounds its event
time (clock skew). Rejected input goes to quarantine with its reason and source position in
headers; a record too large to copy goes there by reference (:mod:`streamvane.stages.quarantine`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streamvane.genesys.events import ConversationEvent, Rejection
from streamvane.stages.markers import MARKER_KEY, InputProgress
from streamvane.stages.quarantine import quarantine_message
from streamvane.topology.app import Topology, marker_headers

log = logging.getLogger(__name__)


def register(topology: Topology) -> None:
    settings = topology.settings
    worker, kpi = settings.worker, settings.kpi
    parser = kpi.event_parser()
    metrics = topology.metrics
    output, keyed, quarantine = topology.output, settings.keyed_topic, settings.topics.quarantine
    progress = InputProgress(topology.input_partitions, kpi.reorder_tolerance_ms)
    read_up_to: dict[int, int] = {}  # input partition → next offset to read

    def publish_marker() -> None:
        """Into every keyed partition, after the events already queued there."""
        marker = progress.marker()
        if marker is None:
            return
        value = marker.encode()
        for partition in range(settings.kafka.partitions):
            output.produce(keyed, value, MARKER_KEY, marker_headers(), partition)

    @topology.app.agent(topology.events, name="ingest", concurrency=1)
    async def ingest(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, worker.batch_within_s):
            now_ms = time.time_ns() // 1_000_000
            metrics.events_in.inc(len(events))
            for event in events:
                message = event.message
                raw: bytes = event.value if event.value is not None else b""
                received_ms = received_at(message.timestamp, now_ms)
                result = parser.parse(raw, received_ms) if raw else Rejection("empty", "record has no value")
                if isinstance(result, ConversationEvent):
                    output.produce(keyed, raw, result.conversation_id.encode(), timestamp_ms=received_ms)
                    progress.observe(message.partition, result.event_time_ms)
                elif isinstance(result, Rejection):
                    value, headers = quarantine_message(
                        raw, result.reason, result.detail, *_position(message)
                    )
                    key = event.key if isinstance(event.key, bytes) and len(event.key) <= 1024 else None
                    output.produce(quarantine, value, key, headers)
                    metrics.quarantined.labels(result.reason).inc()
                    log.warning("quarantined reason=%s source=%s/%s/%s", result.reason, *_position(message))
                read_up_to[message.partition] = message.offset + 1
            publish_marker()
            await output.flush()  # before Faust may commit this batch's offsets

    if worker.ticks_enabled:

        @topology.app.timer(worker.tick_interval_s)  # type: ignore[untyped-decorator]
        async def tick() -> None:
            """Input partitions of this worker with nothing left to read are idle: nothing older
            than now − the maximum delivery delay can still arrive there. Busy ones never tick."""
            consumer = topology.app.consumer
            idle_at = time.time_ns() // 1_000_000 - worker.max_delivery_delay_ms
            advanced = False
            for tp in consumer.assignment():
                if tp.topic != settings.topics.events:
                    continue
                highwater = consumer.highwater(tp)
                if highwater is not None and read_up_to.get(tp.partition, 0) >= highwater:
                    progress.idle(tp.partition, idle_at)
                    advanced = True
            if advanced:
                publish_marker()
                await output.flush()


def received_at(timestamp_s: float | None, now_ms: int) -> int:
    """A record's Kafka timestamp (Faust gives seconds) in ms; ``now_ms`` when it has none."""
    if timestamp_s is None or timestamp_s <= 0:
        return now_ms
    return round(timestamp_s * 1000)


def _position(message: Any) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset
