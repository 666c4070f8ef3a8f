"""A producer an asyncio server can await: :meth:`AckedProducer.send` returns once the broker has
acknowledged every message of a batch (``acks=all``, idempotent), or raises.

Why: ``streamvane ingest`` answers 2xx only for what is durable. librdkafka delivers in its own
threads; a poll thread hands each acknowledgement to the event loop. Bounded, never buffering
without limit: a batch that would take the local queue past ``max_queued`` messages is refused
up front (:class:`QueueFullError`, the caller answers 429) rather than half queued. A broker that
does not acknowledge within ``timeout_s`` fails the batch (:class:`ProduceError`, 503): what was
already stored may be sent again by the client's retry, and event de-duplication downstream
counts it once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.producer import ProduceError
from streamvane.errors import TransientError


class QueueFullError(TransientError):
    """The local queue is at its bound: try again shortly."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


class AckedProducer:
    def __init__(self, kafka: KafkaConnection, timeout_s: float = 10.0, max_queued: int = 100_000) -> None:
        self.max_queued, self.timeout_s = max_queued, timeout_s
        self._producer = Producer(
            kafka.config(
                **{
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "message.timeout.ms": int(timeout_s * 1000),
                    "queue.buffering.max.messages": max_queued + 1000,
                    "partitioner": "murmur2_random",
                }
            )
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="acked-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    @property
    def queued(self) -> int:
        """Messages handed to librdkafka and not yet acknowledged or failed."""
        return len(self._producer)

    async def send(self, messages: Sequence[Message]) -> None:
        """Every message stored by the broker, or an exception; nothing is queued past the bound."""
        if not messages:
            return
        if self.queued + len(messages) > self.max_queued:
            raise QueueFullError(f"{self.queued} messages already waiting for the broker")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        outstanding = [len(messages)]
        failures: list[str] = []

        def settle() -> None:
            if done.done():
                return
            if failures:
                done.set_exception(ProduceError(f"the broker did not store {len(failures)}: {failures[0]}"))
            else:
                done.set_result(None)

        def acked(err: KafkaError | None, _msg: Any) -> None:  # librdkafka's poll thread
            if err is not None:
                failures.append(err.str())
            outstanding[0] -= 1
            if outstanding[0] == 0:
                loop.call_soon_threadsafe(settle)

        for message in messages:
            try:
                self._producer.produce(
                    message.topic,
                    message.value,
                    message.key,
                    headers=list(message.headers),
                    on_delivery=acked,
                )
            except BufferError:
                raise QueueFullError("librdkafka's queue is full") from None
        try:
            async with asyncio.timeout(self.timeout_s + 5):
                await done
        except TimeoutError:
            raise ProduceError(f"no acknowledgement within {self.timeout_s + 5:g} s") from None

    def reachable(self, timeout_s: float = 2.0) -> str | None:
        """None when a broker answers a metadata request; else why not (blocking: call it from a
        thread)."""
        try:
            brokers = self._producer.list_topics(timeout=timeout_s).brokers
        except KafkaException as exc:
            return f"Kafka does not answer ({exc})"
        return None if brokers else "no broker in the cluster metadata"

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush what is queued; the number of messages still not acknowledged."""
        left = self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=5)
        return int(left)
