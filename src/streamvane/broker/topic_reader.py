"""Reading a topic from a point to its current end, outside any consumer group (nothing is
committed): what replay, the dead-letter tools and the tests use to see a topic as it is now.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from streamvane.broker.connection import KafkaConnection


def headers_of(msg: Message) -> dict[str, bytes]:
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {name: value for name, value in pairs if isinstance(value, bytes)}


_NOT_READY = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)


def watermarks(consumer: Consumer, topic: str, partition: int, patience_s: float = 15.0) -> tuple[int, int]:
    """(low, high) offsets of one partition, waiting out retriable errors (a topic created a
    moment ago has no leader yet) for up to ``patience_s``."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            return low, high
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            passing = isinstance(error, KafkaError) and (error.retriable() or error.code() in _NOT_READY)
            if not passing or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_to_end(
    kafka: KafkaConnection,
    topic: str,
    from_ms: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    from_offsets: dict[int, int] | None = None,
) -> Iterator[Message]:
    """Messages of every partition from the first at/after ``from_ms`` (None: the beginning; or
    per partition from ``from_offsets``) up to the end offsets seen when reading starts;
    ``progress(done, total)`` after each fetch."""
    consumer = _reader(kafka)
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        bounds = {p: watermarks(consumer, topic, p) for p in partitions}
        if from_offsets is not None:
            starts = [
                TopicPartition(topic, p, max(low, from_offsets.get(p, low))) for p, (low, _) in bounds.items()
            ]
        elif from_ms is None:
            starts = [TopicPartition(topic, p, low) for p, (low, _) in bounds.items()]
        else:
            starts = consumer.offsets_for_times(
                [TopicPartition(topic, p, from_ms) for p in partitions], timeout=10
            )
        ends = {p: high for p, (_, high) in bounds.items()}
        assignment = [tp for tp in starts if 0 <= tp.offset < ends[tp.partition]]
        total = sum(ends[tp.partition] - tp.offset for tp in assignment)
        consumer.assign(assignment)
        remaining = {tp.partition for tp in assignment}
        done = 0
        while remaining:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                partition, offset = msg.partition(), msg.offset()
                if msg.error() or partition not in remaining or partition is None or offset is None:
                    continue
                if offset >= ends[partition] - 1:
                    remaining.discard(partition)
                if offset < ends[partition]:
                    done += 1
                    yield msg
            if progress is not None:
                progress(done, total)
    finally:
        consumer.close()


def read_range(
    kafka: KafkaConnection, topic: str, partition: int, start: int, end: int, timeout_s: float = 10.0
) -> list[Message]:
    """The messages of one partition from offset ``start`` up to (not including) ``end``, read
    directly (no group, nothing committed); fewer when the partition no longer holds some, or
    ``timeout_s`` passed first."""
    consumer = _reader(kafka)
    out: list[Message] = []
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                offset = msg.offset()
                if msg.error() or offset is None:
                    continue
                if offset >= end:
                    return out
                out.append(msg)
                if offset == end - 1:
                    return out
        return out
    finally:
        consumer.close()


def history_start(kafka: KafkaConnection, topic: str) -> int | None:
    """The earliest time from which ``topic`` still holds every record, or None when it has
    never lost one (every partition still starts at offset 0). Retention or deletion moves a
    partition's start; from the first record it still has on, its history is complete."""
    consumer = _reader(kafka)
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        starts: list[int] = []
        for p in partitions:
            low, high = watermarks(consumer, topic, p)
            if low == 0:
                continue
            if low >= high:
                starts.append(2**62)  # everything it had is gone
                continue
            consumer.assign([TopicPartition(topic, p, low)])
            msg = None
            for _ in range(30):
                msg = consumer.poll(1.0)
                if msg is not None and not msg.error():
                    break
            if msg is None or msg.error():
                raise RuntimeError(f"cannot read the first retained record of {topic}/{p}")
            starts.append(msg.timestamp()[1])
        return max(starts) if starts else None
    finally:
        consumer.close()


def _reader(kafka: KafkaConnection) -> Consumer:
    """A consumer in a throwaway group that never commits: it only looks."""
    return Consumer(
        kafka.config(**{"group.id": f"streamvane-reader-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    )
