"""Stage 1: raw Genesys events → parsed and re-keyed by conversationId, or quarantined.

A bridge may produce unkeyed records; everything downstream needs a conversation's events in
one partition, so each valid event is forwarded (original bytes) keyed by its conversationId.
Rejected input goes to quarantine with its reason and source position in headers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streamvane.genesys.events import ConversationEvent, Rejection
from streamvane.genesys.parse import EventParser
from streamvane.topology.app import Topology

log = logging.getLogger(__name__)


def register(topology: Topology) -> None:
    worker = topology.settings.worker
    parser = EventParser()
    metrics = topology.metrics
    output, keyed, quarantine = (
        topology.output,
        topology.settings.topics.keyed,
        topology.settings.topics.quarantine,
    )

    @topology.app.agent(topology.events, name="ingest", concurrency=1)
    async def ingest(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, worker.batch_within_s):
            now_ms = time.time_ns() // 1_000_000
            metrics.events_in.inc(len(events))
            for event in events:
                raw: bytes = event.value if event.value is not None else b""
                result = parser.parse(raw, now_ms) if raw else Rejection("empty", "record has no value")
                if isinstance(result, ConversationEvent):
                    output.produce(keyed, raw, result.conversation_id.encode())
                elif isinstance(result, Rejection):
                    message = event.message
                    headers = [
                        ("reason", result.reason.encode()),
                        ("detail", result.detail.encode()[:1000]),
                        ("source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
                    ]
                    output.produce(quarantine, raw, event.key, headers)
                    metrics.quarantined.labels(result.reason).inc()
                    log.warning("quarantined reason=%s source=%s/%s/%s", result.reason, *_position(message))
            await output.flush()  # before Faust may commit this batch's offsets


def _position(message: Any) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset
