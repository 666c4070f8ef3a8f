"""A real `streamvane dispatch` process against the real broker, with its own topics and group."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from confluent_kafka import Producer

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import headers_of, read_to_end
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.ledger import DLQ_CONTEXT, DLQ_REASON
from tests.support import kafka
from tests.support.process import ProcessControl

QUEUE = "50feb9c2-a2e7-598e-ab50-932bffc1db65"
START_MS = 1_793_606_400_000  # 2026-11-02T08:00:00Z
QUARTER = 15 * 60_000


def profile(profile_id: str, url: str, **extra: Any) -> dict[str, Any]:
    """A PT15M UTC JSON profile with one voice queue, delivering to ``url``."""
    endpoint = {
        "url": url + "/feeds/{profile}/{interval_start}",
        "allow_insecure_http": url.startswith("http://"),  # the test's own server on 127.0.0.1
        "timeout_ms": 1000,
        **extra.pop("endpoint", {}),
    }
    return {
        "id": profile_id,
        "version": 1,
        "dimensions": [{"queue_id": QUEUE, "media_type": "voice", "name": "Sales"}],
        "endpoint": endpoint,
        "retry": {"base_ms": 100, "cap_ms": 1000, "retry_after_max_ms": 5000, **extra.pop("retry", {})},
        **extra,
    }


def records(profile_id: str, count: int, offered: int = 3) -> list[FeedRecord]:
    """``count`` consecutive quarter hours from 08:00Z; interval i offers ``offered + i`` calls."""
    spec = FeedProfile(id=profile_id, version=1, dimensions=(Dimension(queue_id=QUEUE, media_type="voice"),))
    out = []
    for i in range(count):
        acc = IntervalAccumulator()
        for _ in range(offered + i):
            acc.add("nOffered", 1)
        out.append(interval_record(spec, START_MS + i * QUARTER, {(QUEUE, "voice"): acc}, kpi=KpiConfig()))
    return out


@dataclass
class DispatchRun(ProcessControl):
    bootstrap: str
    tmp: Path
    profiles: list[dict[str, Any]]
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    proc: subprocess.Popen[bytes] | None = None
    label = "dispatcher"
    starts: int = 0

    def __post_init__(self) -> None:
        self.topics = {
            name: f"test.{name}.{self.run_id}"
            for name in (
                "feed_records",
                "dead_letter",
                "delivery_ledger",
                "reconciliation",
                "dispatch_progress",
                "dead_letter_state",
                "provisional",
            )
        }
        settings_file = self.tmp / f"dispatch-{self.run_id}.yaml"
        settings_file.write_text(yaml.safe_dump({"profiles": self.profiles, **self.settings}))
        self.env = {
            **os.environ,
            **self.secrets,
            "STREAMVANE_SETTINGS_FILE": str(settings_file),
            "STREAMVANE_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "STREAMVANE_DISPATCHER__GROUP_ID": f"sv-dispatch-{self.run_id}",
            "STREAMVANE_DISPATCHER__COMMIT_INTERVAL_S": "0.2",
            "STREAMVANE_LOG_LEVEL": "INFO",
            **{f"STREAMVANE_TOPICS__{name.upper()}": topic for name, topic in self.topics.items()},
        }
        self.log = self.tmp / f"dispatch-{self.run_id}.log"
        kafka.create_topic(self.bootstrap, self.topics["feed_records"], partitions=1)
        kafka.create_topic(self.bootstrap, self.topics["provisional"], partitions=1)
        self.codec = AvroCodec()

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamvane", "dispatch"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def cleanup(self) -> None:
        self.stop()
        kafka.delete_topics(self.bootstrap, list(self.topics.values()))

    def produce(self, feed_records: Iterable[FeedRecord]) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap})
        for record in feed_records:
            producer.produce(
                self.topics["feed_records"],
                key=record.compaction_key.encode(),
                value=self.codec.encode(record),
                headers=[(FINGERPRINT_HEADER, self.codec.fingerprint.encode())],
            )
        assert producer.flush(30) == 0

    def produce_updates(
        self, updates: Iterable[FeedRecord | tuple[str, int]], written_ms: int | None = None
    ) -> None:
        """Provisional updates as the assembler writes them (a (profile, start) pair: the empty
        marker of an interval whose final was emitted); ``written_ms``: their Kafka timestamp."""
        codec = AvroCodec("provisional_record")
        producer = Producer({"bootstrap.servers": self.bootstrap})
        for update in updates:
            headers: list[tuple[str, str | bytes | None]] = []
            if isinstance(update, tuple):
                key, value = f"{update[0]}|{update[1]}", b""
            else:
                key, value = update.compaction_key, codec.encode(update)
                headers = [(FINGERPRINT_HEADER, codec.fingerprint.encode())]
            producer.produce(
                self.topics["provisional"],
                key=key.encode(),
                value=value,
                headers=headers,
                timestamp=written_ms or 0,
            )
        assert producer.flush(30) == 0

    def ledger(self) -> list[dict[str, Any]]:
        return [
            orjson.loads(m.value() or b"{}")
            for m in read_to_end(KafkaConnection.plaintext(self.bootstrap), self.topics["delivery_ledger"])
        ]

    def outcomes(self) -> list[dict[str, Any]]:
        return [e for e in self.ledger() if e["kind"] == "outcome"]

    def dead_letters(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for msg in read_to_end(KafkaConnection.plaintext(self.bootstrap), self.topics["dead_letter"]):
            headers = headers_of(msg)
            out.append((headers[DLQ_REASON].decode(), orjson.loads(headers.get(DLQ_CONTEXT, b"{}"))))
        return out

    def wait_outcomes(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            self.assert_alive()
            found = self.outcomes()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} outcomes:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
