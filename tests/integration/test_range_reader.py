"""Reading a stretch of one partition directly, as the correlate agent does for keyed records
its consumer skipped: exactly the records asked for, in order, none past the end; fewer when the
partition no longer holds them."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_range
from tests.support import kafka


def test_a_stretch_of_one_partition_is_read_exactly(kafka_bootstrap: str) -> None:
    topic = kafka.create_topic(kafka_bootstrap, f"test.range.{uuid.uuid4().hex[:10]}", partitions=2)
    try:
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        for n in range(30):
            producer.produce(topic, value=f"p1-{n}".encode(), key=b"k", partition=1)
            producer.produce(topic, value=f"p0-{n}".encode(), partition=0)
        assert producer.flush(30) == 0
        connection = KafkaConnection.plaintext(kafka_bootstrap)
        got = read_range(connection, topic, 1, 7, 12)
        assert [(m.offset(), m.value()) for m in got] == [(n, f"p1-{n}".encode()) for n in range(7, 12)]
        assert [m.offset() for m in read_range(connection, topic, 0, 28, 40, timeout_s=3)] == [28, 29], (
            "the end of the partition comes first: what is there, within the timeout"
        )
        assert read_range(connection, topic, 1, 30, 31, timeout_s=2) == []
    finally:
        kafka.delete_topics(kafka_bootstrap, [topic])
