"""`streamvane simulate --to-kafka`, the compose stack's event source: the same events the file
output has, on the event topic, keyed by conversationId."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_to_end
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration
ARGS = ["simulate", "--agents", "6", "--hours", "0.5", "--seed", "5", "--duplicate-rate", "0.02"]


def test_the_simulated_events_land_on_the_event_topic_keyed_by_conversation(
    kafka_bootstrap: str, new_topic: TopicFactory, tmp_path: Path
) -> None:
    topic = new_topic("sim-events", partitions=3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env.update(STREAMVANE_KAFKA__BOOTSTRAP_SERVERS=kafka_bootstrap, STREAMVANE_TOPICS__EVENTS=topic)
    env.update(STREAMVANE_KAFKA__PARTITIONS="3", STREAMVANE_WORKER__APP_ID=f"sim-{topic}")
    written = subprocess.run(
        [sys.executable, "-m", "streamvane", *ARGS, "--out", str(tmp_path / "events.jsonl")],
        env=env,
        capture_output=True,
        check=True,
    )
    produced = subprocess.run(
        [sys.executable, "-m", "streamvane", *ARGS, "--to-kafka"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert written.returncode == 0 and produced.returncode == 0, produced.stderr
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    assert f"simulate: {len(lines)} events produced" in produced.stderr
    messages = list(read_to_end(KafkaConnection.plaintext(kafka_bootstrap), topic))
    assert sorted(m.value() or b"" for m in messages) == sorted(lines)
    for msg in messages:
        body = orjson.loads(msg.value() or b"{}")["detail"]["eventBody"]
        assert msg.key() == body["conversationId"].encode()
    assert len({m.partition() for m in messages}) == 3, "conversations spread over the partitions"
