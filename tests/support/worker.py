"""A real `streamvane worker` process against the real broker, with its own topics and state."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.group_lag import group_lag
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.topology.app import TICK_KEY, tick_headers
from tests.support import kafka
from tests.support.process import ProcessControl


def header_map(msg: Any) -> dict[str, bytes]:
    raw = msg.headers() or []
    return {name: value if isinstance(value, bytes) else (value or "").encode() for name, value in raw}


@dataclass
class WorkerRun(ProcessControl):
    """Settings, topics and the process of one worker under test."""

    bootstrap: str
    tmp: Path
    profiles: list[dict[str, Any]]
    feed_start: str
    partitions: int = 3
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    proc: subprocess.Popen[bytes] | None = None
    label = "worker"
    starts: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    events_config: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.topics = {
            name: f"test.{name}.{self.run_id}"
            for name in ("events", "keyed", "quarantine", "partials", "feed_records", "provisional")
        }
        self.app_id = f"sv-{self.run_id}"
        settings_file = self.tmp / "settings.yaml"
        settings_file.write_text(yaml.safe_dump({**self.settings, "profiles": self.profiles}))
        self.env = {
            **os.environ,
            "STREAMVANE_SETTINGS_FILE": str(settings_file),
            "STREAMVANE_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "STREAMVANE_KAFKA__PARTITIONS": str(self.partitions),
            "STREAMVANE_WORKER__APP_ID": self.app_id,
            "STREAMVANE_WORKER__FEED_START": self.feed_start,
            "STREAMVANE_WORKER__TICKS_ENABLED": "false",
            "STREAMVANE_WORKER__BATCH_WITHIN_S": "0.1",
            "STREAMVANE_WORKER__SESSION_TIMEOUT_S": "6",
            "STREAMVANE_DATA_DIR": str(self.tmp / "state"),
            **{f"STREAMVANE_TOPICS__{name.upper()}": topic for name, topic in self.topics.items()},
        }
        self.log = self.tmp / "worker.log"
        # Unlimited retention, as the app creates it: simulated events carry Kafka timestamps of
        # November 2026, and under the broker's 7-day default its retention check (every minute)
        # would delete them while a test still reads them (a replay then reads nothing).
        kafka.create_topic(
            self.bootstrap,
            self.topics["events"],
            partitions=self.partitions,
            config={"retention.ms": "-1", **self.events_config},
        )

    # -- process -----------------------------------------------------------------------------

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts} =====\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamvane", "worker", "--loglevel", "info"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        """Until this start's worker has joined the group and recovered its tables."""
        marker = f"===== start {self.starts} =====\n"
        deadline = time.monotonic() + timeout
        while "[^Worker]: Ready" not in self.log.read_text().rsplit(marker, 1)[-1]:
            self.assert_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"worker start {self.starts} not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def cleanup(self) -> None:
        self.stop()
        internal = [f"{self.app_id}-{t}-changelog" for t in ("correlation-state", "assembly-state")]
        kafka.delete_topics(
            self.bootstrap, [*self.topics.values(), *internal, f"{self.app_id}-__assignor-__leader"]
        )

    def same_topics_as(self, app_id: str, env: dict[str, str], proc: subprocess.Popen[bytes]) -> WorkerRun:
        """A view of another app's worker (``proc``, started with ``env``) on the same event
        topic, for its group's lag and its close-backfill."""
        twin = copy.copy(self)
        twin.app_id, twin.env, twin.proc = app_id, env, proc
        return twin

    # -- data --------------------------------------------------------------------------------

    def produce_events(
        self, lines: list[bytes], input_partitions: int = 1, timestamps: list[int] | None = None
    ) -> None:
        """Unkeyed (round robin over ``input_partitions``), like a bridge that does not key records;
        ``timestamps``: each record's Kafka timestamp (epoch ms; the produce time otherwise).

        With several input partitions, ingest interleaves them in fetch order; skew beyond the
        reorder tolerance then shows up as restatements, so exactness tests use one partition.
        """
        limit = int(self.events_config.get("max.message.bytes", 1_000_000)) + 1024
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "linger.ms": 20, "message.max.bytes": limit}
        )
        failures: list[Any] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(err)

        for i, line in enumerate(lines):
            while True:
                try:
                    producer.produce(
                        self.topics["events"],
                        value=line,
                        partition=i % input_partitions,
                        on_delivery=delivered,
                        timestamp=timestamps[i] if timestamps is not None else 0,
                    )
                    break
                except BufferError:  # librdkafka's queue is full: let deliveries drain
                    producer.poll(0.1)
            if i % 10_000 == 0:
                producer.poll(0)
        assert producer.flush(60) == 0
        assert failures == []

    def ingest_lag(self) -> int | None:
        """The ingest group's lag on the event topic, read from outside."""
        return group_lag(
            KafkaConnection.plaintext(self.bootstrap), f"{self.app_id}-ingest", self.topics["events"]
        )

    def described_lag(self, group: str) -> dict[tuple[str, int], int | None]:
        return kafka.described_lag(self.bootstrap, group)

    def wait_described_lag_zero(
        self, group: str, topics: set[str], timeout: float = 90
    ) -> dict[tuple[str, int], int | None]:
        """Until every partition of ``topics`` shows lag 0 for ``group`` (Faust commits every few
        seconds); the last description either way."""
        deadline = time.monotonic() + timeout
        while True:
            lags = {k: v for k, v in self.described_lag(group).items() if k[0] in topics}
            if (lags and all(v == 0 for v in lags.values())) or time.monotonic() > deadline:
                return lags
            time.sleep(1.0)

    def wait_ingested(self, timeout: float = 180) -> None:
        """Until ingest has bundled (and flushed) every input record and committed its offsets."""
        deadline = time.monotonic() + timeout
        while (lag := self.ingest_lag()) != 0:
            self.assert_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"ingest lag {lag} after {timeout} s")
            time.sleep(0.5)

    def tick(self, tick_ms: int) -> None:
        """What the ticker (or the replay tool at the end of a backlog) writes into every partition."""
        producer = Producer({"bootstrap.servers": self.bootstrap})
        headers: list[tuple[str, str | bytes | None]] = list(tick_headers())
        for p in range(self.partitions):
            producer.produce(
                self.topics["keyed"], key=TICK_KEY, value=str(tick_ms).encode(), partition=p, headers=headers
            )
        assert producer.flush(30) == 0

    def close_backfill(self, tick_ms: int) -> str:
        """The same, the way an operator does it: `streamvane close-backfill --until`."""
        until = datetime.fromtimestamp(tick_ms / 1000, UTC).isoformat()
        done = subprocess.run(
            [sys.executable, "-m", "streamvane", "close-backfill", "--until", until],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def _read(self, topic: str, enough: Callable[[list[Any]], bool], timeout: float) -> list[Any]:
        """Messages of ``topic`` from the start until ``enough`` says so (or the timeout)."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while not enough(messages) and time.monotonic() < deadline:
                self.assert_alive()
                msg = consumer.poll(0.5)
                if msg is not None and not msg.error():
                    messages.append(msg)
        finally:
            consumer.close()
        return messages

    def read_records(
        self, done: Callable[[list[FeedRecord]], bool], timeout: float = 180
    ) -> list[FeedRecord]:
        codec = AvroCodec()

        def decode(msg: Any) -> FeedRecord:
            return codec.decode(msg.value() or b"", header_map(msg)[FINGERPRINT_HEADER].decode())

        records: list[FeedRecord] = []

        def enough(messages: list[Any]) -> bool:
            records.extend(decode(m) for m in messages[len(records) :])
            return done(records)

        enough(self._read(self.topics["feed_records"], enough, timeout))
        if not done(records):
            raise AssertionError(f"{len(records)} records after {timeout}s\n{self.log.read_text()[-4000:]}")
        return records

    def read_at(self, topic: str, partition: int, offset: int) -> bytes | None:
        """The value of one record (None if it cannot be read within 30 s)."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"at-{uuid.uuid4().hex}"})
        try:
            consumer.assign([TopicPartition(topic, partition, offset)])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and not msg.error():
                    return msg.value()
            return None
        finally:
            consumer.close()

    def read_quarantine(self, expected: int, timeout: float = 60) -> list[tuple[bytes, dict[str, bytes]]]:
        messages = self._read(self.topics["quarantine"], lambda ms: len(ms) >= expected, timeout)
        return [(m.value() or b"", header_map(m)) for m in messages]
