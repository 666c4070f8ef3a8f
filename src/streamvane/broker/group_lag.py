"""A consumer group's lag on a topic, read from outside the group (its committed offsets against
the partitions' high watermarks), as ``kafka-consumer-groups --describe`` computes it."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import watermarks


def consumer_lag_gauge(registry: CollectorRegistry) -> Gauge:
    """``streamvane_consumer_lag{group,topic,partition}``: what each consuming process reports of
    its own assignment (high watermark minus position)."""
    return Gauge(
        "streamvane_consumer_lag",
        "Records not yet consumed (high watermark - position), per group, topic and partition.",
        ["group", "topic", "partition"],
        registry=registry,
    )


def group_lag(kafka: KafkaConnection, group: str, topic: str) -> int | None:
    """Records of ``topic`` the group has not committed yet; None while it has committed nothing
    on a partition that holds records. Does not join the group."""
    consumer = Consumer(kafka.config(**{"group.id": group, "enable.auto.commit": False}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        lag = 0
        for tp in consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10):
            low, high = watermarks(consumer, topic, tp.partition)
            if high > low and tp.offset < 0:
                return None
            lag += max(0, high - max(tp.offset, low))
        return lag
    finally:
        consumer.close()
