"""The output producer of every process (worker, dispatcher ledger, demo): confluent-kafka
(librdkafka, idempotent) instead of Faust's per-message sends.

Why: measured on this machine, Faust's ``topic.send`` costs about a millisecond of event-loop
work per message, which capped ingest below 1,000 events/s; librdkafka batches in C. Delivery
is still at-least-once: every agent :meth:`flush`es (off the event loop) before it returns its
batch, and Faust commits a batch's offsets only after that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Producer

from streamvane.broker.connection import KafkaConnection
from streamvane.errors import TransientError

log = logging.getLogger(__name__)


class ProduceError(TransientError):
    """The broker did not acknowledge a message; the batch must not be committed."""


@dataclass
class OutputProducer:
    kafka: KafkaConnection
    _producer: Producer = field(init=False)
    _failures: list[KafkaError] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._producer = Producer(
            self.kafka.config(**{"enable.idempotence": True, "linger.ms": 5, "partitioner": "murmur2_random"})
        )

    def _delivered(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self._failures.append(err)

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        on_ack: Callable[[bool], None] | None = None,
        timestamp_ms: int | None = None,
        on_stored: Callable[[int], None] | None = None,
    ) -> None:
        """Queue one message (waiting while librdkafka's queue is full). With ``on_ack``
        the caller hears of each acknowledgement itself (``True``: stored by the broker) and
        :meth:`flush` does not collect that message's failure. ``timestamp_ms`` keeps a record's
        original time (the produce time otherwise). ``on_stored`` hears the offset of each
        stored message; failures still make :meth:`flush` raise. ``value`` None: a tombstone."""
        callback: Callable[[KafkaError | None, Any], None] = self._delivered
        if on_stored is not None:
            callback = self._reporting_offsets(on_stored)
        elif on_ack is not None:
            callback = self._reporting_outcome(topic, on_ack)
        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": callback}
        if headers:
            kwargs["headers"] = headers
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        while True:
            try:
                self._producer.produce(topic, **kwargs)
                return
            except BufferError:
                self._producer.poll(0.05)

    def _reporting_offsets(
        self, on_stored: Callable[[int], None]
    ) -> Callable[[KafkaError | None, Any], None]:
        def callback(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                self._failures.append(err)
            else:
                on_stored(msg.offset())

        return callback

    @staticmethod
    def _reporting_outcome(
        topic: str, on_ack: Callable[[bool], None]
    ) -> Callable[[KafkaError | None, Any], None]:
        def callback(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                log.error("not stored in %s: %s", topic, err)
            on_ack(err is None)

        return callback

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery callbacks."""
        self._producer.poll(timeout_s)

    def flush_now(self, timeout_s: float = 60.0) -> int:
        """Block until every message is acknowledged; how many were not."""
        return int(self._producer.flush(timeout_s))

    def flush_or_raise(self, timeout_s: float = 60.0) -> None:
        """Block until every message is acknowledged; :class:`ProduceError` if any was not."""
        left = self.flush_now(timeout_s)
        if left or self._failures:
            failures, self._failures = self._failures, []
            raise ProduceError(f"{left} messages unacknowledged, failures: {failures[:3]}")

    async def flush(self, timeout_s: float = 60.0) -> None:
        """The same, waiting off the event loop."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.flush_or_raise, timeout_s)


def logged_only(_stored: bool) -> None:
    """An ``on_ack`` for a message nothing waits for (a ledger attempt entry, open cells sent again
    in seconds): its failure is logged by the producer, and fails no one's :meth:`flush`."""
