"""The served view, kept current from the topics the product writes: feed records (the computed
interval documents), the delivery ledger, reconciliation reports and the partials (each keyed
partition's watermark). A thread reads every partition of them from the beginning, outside any
consumer group (nothing is committed), and applies each message to an
:class:`~streamvane.feeds.interval_status.IntervalStatus` under a lock.

``caught_up`` turns true once every partition has been read to the end it had when reading
started: until then the view is incomplete and ``/readyz`` says so. ``version`` grows with every
change, so an unchanged view answers 304 to a client's ``If-None-Match``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import headers_of, watermarks
from streamvane.feeds.delivery_result import Result
from streamvane.feeds.interval_status import IntervalStatus
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec, UnknownSchemaError
from streamvane.records.open_cells import is_open_cells
from streamvane.records.partial import Partial

log = logging.getLogger("streamvane.serve")


@dataclass(frozen=True, slots=True)
class ViewTopics:
    feed_records: str
    ledger: str
    reconciliation: str
    partials: str


@dataclass
class ReadModel:
    kafka: KafkaConnection
    topics: ViewTopics
    status: IntervalStatus = field(default_factory=IntervalStatus)
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0
    caught_up: bool = False
    watermarks: dict[int, int] = field(default_factory=dict)  # keyed partition -> watermark ms
    errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))
    problem: str | None = None

    def start(self) -> ReadModel:
        threading.Thread(target=self._run, name="read-model", daemon=True).start()
        return self

    def _run(self) -> None:
        while True:
            try:
                self._follow()
            except KafkaException as exc:
                self.problem = f"Kafka: {exc}"
                log.warning("read model: %s; retrying in 5 s", exc)
                time.sleep(5)

    def _follow(self) -> None:
        consumer = Consumer(
            self.kafka.config(
                **{
                    "group.id": f"streamvane-serve-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "enable.partition.eof": False,
                }
            )
        )
        codec = AvroCodec()
        try:
            names = [
                self.topics.feed_records,
                self.topics.ledger,
                self.topics.reconciliation,
                self.topics.partials,
            ]
            metadata = consumer.list_topics(timeout=10).topics
            assignment, ends = [], {}
            for name in names:
                if name not in metadata:
                    continue
                for p in metadata[name].partitions:
                    assignment.append(TopicPartition(name, p, OFFSET_BEGINNING))
                    ends[(name, p)] = watermarks(consumer, name, p)[1]
            consumer.assign(assignment)
            self.problem = None
            behind = {key for key, end in ends.items() if end > 0}
            self.caught_up = not behind
            while True:
                batch = consumer.consume(num_messages=2000, timeout=0.5)
                if not batch:
                    continue
                with self.lock:
                    for msg in batch:
                        if msg.error() is None:
                            self._apply(msg, codec)
                            key = (msg.topic(), msg.partition())
                            if key in behind and (msg.offset() or 0) >= ends[key] - 1:
                                behind.discard(key)
                    self.version += 1
                    if not behind:
                        self.caught_up = True
        finally:
            consumer.close()

    def _apply(self, msg: Message, codec: AvroCodec) -> None:
        topic, value = msg.topic(), msg.value() or b""
        if topic == self.topics.feed_records:
            try:
                self.status.record(codec.decode(value, headers_of(msg)[FINGERPRINT_HEADER].decode()))
            except (KeyError, UnknownSchemaError, ValueError, EOFError) as exc:
                self.errors.append({"source": "feed record", "detail": str(exc)})
        elif topic == self.topics.ledger:
            entry = orjson.loads(value)
            self.status.ledger(entry)
            if entry.get("kind") == "outcome" and Result(entry["result"]).dead_letters:
                self.errors.append(
                    {
                        "source": f"delivery {entry.get('profile')}",
                        "interval": entry.get("intervalStart"),
                        "detail": f"{entry.get('result')}: "
                        f"{entry.get('detail') or entry.get('error') or entry.get('status')}",
                    }
                )
        elif topic == self.topics.reconciliation:
            report = orjson.loads(value)
            self.status.reconciled(report)
            if report.get("verdict") == "out":
                self.errors.append(
                    {
                        "source": f"reconciliation {report.get('profile')}",
                        "interval": report.get("interval"),
                        "detail": f"{report.get('out')} cells out of tolerance",
                    }
                )
        elif value and not is_open_cells(msg.key()):
            try:
                partial = Partial.decode(value)
            except (KeyError, TypeError, ValueError) as exc:
                self.errors.append({"source": "partial", "detail": f"undecodable: {exc}"})
                return
            known = self.watermarks.get(partial.partition)
            if known is None or partial.watermark_ms > known:
                self.watermarks[partial.partition] = partial.watermark_ms
