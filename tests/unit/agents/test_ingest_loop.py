"""Ingest's shell with fakes at the transport seam: bundles are flushed before input offsets are
committed, a failed flush commits nothing, and ticks advance only idle input partitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from streamvane.agents.ingest import IngestLoop, consumer_config
from streamvane.broker.connection import KafkaConnection
from streamvane.broker.producer import ProduceError
from streamvane.settings import Settings
from streamvane.stages.bundles import decode
from streamvane.topology.metrics import WorkerMetrics
from tests.support.expectations import late_offer

T0 = 1_800_000_000_000
TOPIC = "genesys.events"


@dataclass
class FakeMessage:
    _value: bytes | None
    _partition: int
    _offset: int
    _timestamp: int = T0

    def error(self) -> None:
        return None

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> None:
        return None

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)


@dataclass
class FakeConsumer:
    log: list[str]
    batches: list[list[FakeMessage]]
    high: dict[int, int] = field(default_factory=dict)
    committed_offsets: dict[int, int] = field(default_factory=dict)
    positions: dict[int, int] = field(default_factory=dict)

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        batch = self.batches.pop(0) if self.batches else []
        for message in batch:
            self.positions[message.partition()] = message.offset() + 1
        return batch

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.positions.get(tp.partition, -1001)) for tp in tps]

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert not asynchronous
        self.log.append("commit " + ",".join(f"{tp.partition}@{tp.offset}" for tp in offsets))
        self.committed_offsets.update({tp.partition: tp.offset for tp in offsets})

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in sorted(self.high)]

    low: dict[int, int] = field(default_factory=dict)

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return self.low.get(tp.partition, 0), self.high[tp.partition]

    def committed(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.committed_offsets.get(tp.partition, -1001))
            for tp in tps
        ]


@dataclass
class FakeOutput:
    log: list[str]
    sent: list[tuple[str, bytes | None, int | None]] = field(default_factory=list)
    fail: bool = False

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Any = None,
        partition: int | None = None,
    ) -> None:
        self.log.append(f"produce {topic}")
        self.sent.append((topic, value, partition))

    def flush_or_raise(self) -> None:
        self.log.append("flush")
        if self.fail:
            raise ProduceError("1 messages unacknowledged")


def loop(consumer: FakeConsumer, output: FakeOutput, now: list[int], ticks: bool = False) -> IngestLoop:
    settings = Settings(
        kafka={"partitions": 2},
        topics={"events": TOPIC},
        worker={"ticks_enabled": ticks, "tick_interval_s": 1.0, "max_delivery_delay_ms": 60_000},
    )
    return IngestLoop(settings, 2, WorkerMetrics(), consumer, output, clock=lambda: now[0])  # type: ignore[arg-type]


def test_a_batch_is_produced_and_flushed_before_its_offsets_are_committed() -> None:
    log: list[str] = []
    batch = [FakeMessage(late_offer(T0 - 1000 * i, "q", f"c-{i}"), i % 2, 10 + i) for i in range(4)]
    consumer, output = FakeConsumer(log, [batch]), FakeOutput(log)
    assert loop(consumer, output, [T0]).step() == 4
    assert log[-2:] == ["flush", "commit 0@13,1@14"]
    assert all(entry == "produce streamvane.events.keyed.v1" for entry in log[:-2])
    events = sorted(e.conversation_id for _, raw, _ in output.sent for e in decode(raw or b"").events)
    assert events == ["c-0", "c-1", "c-2", "c-3"]


def test_a_failed_flush_commits_nothing() -> None:
    log: list[str] = []
    consumer = FakeConsumer(log, [[FakeMessage(late_offer(T0, "q", "c"), 0, 0)]])
    with pytest.raises(ProduceError):
        loop(consumer, FakeOutput(log, fail=True), [T0]).step()
    assert not any(entry.startswith("commit") for entry in log)


def test_ticks_advance_idle_partitions_only() -> None:
    log: list[str] = []
    consumer = FakeConsumer(
        log, [[FakeMessage(late_offer(T0 - 3_600_000, "q", "c"), 0, 0)]], high={0: 1, 1: 5}
    )
    output = FakeOutput(log)
    now = [T0]
    ingest = loop(consumer, output, now, ticks=True)
    ingest.step()  # partition 0 read to its end; partition 1 has 5 unread records
    markers = [decode(raw or b"").marker for _, raw, _ in output.sent]
    assert markers[-1] is not None and markers[-1].watermarks == {0: T0 - 60_000}, "1 is busy: no tick"
    consumer.committed_offsets[1] = 5  # another instance read it to the end before
    now[0] += 1500
    output.sent.clear()
    ingest.step()
    assert {decode(raw or b"").marker.watermarks[1] for _, raw, _ in output.sent} == {now[0] - 60_000}  # type: ignore[union-attr]
    assert len(output.sent) == 2, "a marker-only bundle into each keyed partition"


def test_the_ingest_group_is_the_app_ids_own_and_static_membership_follows_the_instance() -> None:
    settings = Settings(worker={"app_id": "wfm-prod", "instance_id": "worker-0"})
    config = consumer_config(settings, KafkaConnection.plaintext(settings.kafka.bootstrap_servers))
    assert (config["group.id"], config["group.instance.id"]) == ("wfm-prod-ingest", "worker-0-ingest")
    assert config["enable.auto.commit"] is False


def test_a_position_that_retention_deleted_is_reported_with_the_events_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = FakeConsumer([], [], high={0: 900, 1: 50}, committed_offsets={0: 100, 1: 20}, low={0: 400})
    ingest = loop(consumer, FakeOutput([]), [T0])
    with caplog.at_level(logging.ERROR):
        ingest.on_assign(consumer, consumer.assignment())
    assert [r.getMessage() for r in caplog.records] == [
        f"input {TOPIC}/0: the group's position 100 is no longer held (the topic keeps records from 400 on): "
        "300 events were deleted before this app read them and are not in its KPIs"
    ]
    assert ingest.metrics.registry.get_sample_value("streamvane_input_history_lost_total") == 300
