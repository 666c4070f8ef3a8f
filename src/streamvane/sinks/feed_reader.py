"""Reading the feed-record topic with manual commits: what the dispatcher and continuous
reconciliation share. A reader commits only what its :class:`OffsetTracker` says is finished, so
a restart resumes at the first record whose outcome was not yet durable."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import Consumer, Message, TopicPartition

from streamvane.broker.connection import KafkaConnection
from streamvane.sinks.offsets import OffsetTracker


def feed_consumer(
    kafka: KafkaConnection,
    group_id: str,
    topic: str | list[str],
    session_timeout_s: float = 10.0,
    on_assign: Callable[[Consumer, list[TopicPartition]], None] | None = None,
) -> Consumer:
    """Subscribed to ``topic`` (or to several, one partition each, which the default range
    assignment gives to one member together); a new group starts at the earliest record.
    ``on_assign`` hears of each assignment (and, with an empty list, of a revocation)."""
    topics = [topic] if isinstance(topic, str) else topic
    consumer = Consumer(
        kafka.config(
            **{
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": int(session_timeout_s * 1000),
            }
        )
    )
    if on_assign is None:
        consumer.subscribe(topics)
    else:
        consumer.subscribe(
            topics,
            on_assign=on_assign,
            on_revoke=lambda c, _p: on_assign(c, []),
            on_lost=lambda c, _p: on_assign(c, []),
        )
    return consumer


def fetch_available(consumer: Consumer) -> list[Message]:
    """What is there now: wait up to 100 ms for the first message only (``consume(n, t)`` would
    hold the first one back until n arrive or t passes), then take whatever else is buffered."""
    first = consumer.poll(0.1)
    if first is None:
        return []
    return [first, *consumer.consume(499, 0)]


def commit_finished(consumer: Consumer, topic: str, tracker: OffsetTracker) -> None:
    offsets = tracker.committable()
    if offsets:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
            asynchronous=False,
        )
