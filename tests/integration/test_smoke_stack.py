"""The real stack end to end: confluent-kafka producer -> Faust (aiokafka) -> RocksDB table
(rocksdict) -> compacted changelog -> recovery after the local state is deleted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from tests.support import kafka

pytestmark = pytest.mark.integration
APP = Path(__file__).parent / "apps" / "smoke_counter.py"
EXPECTED = {"alpha": 3, "beta": 5, "gamma": 7}


class FaustWorker:
    """The smoke app as a real worker process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(APP), "worker", "--loglevel", "info", "--without-web"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def assert_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")


def consume_until(
    bootstrap: str,
    topic: str,
    done: Callable[[dict[str, bytes]], bool],
    worker: FaustWorker,
    timeout: float,
    json_keys: bool = False,
    nudge: Callable[[], None] | None = None,
) -> dict[str, bytes]:
    """Latest value per key on `topic`, read from the beginning until `done` says so.

    ``nudge`` is called every 15 s without progress (to re-send read-only probes).
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    latest: dict[str, bytes] = {}
    deadline = time.monotonic() + timeout
    next_nudge = time.monotonic() + 15
    try:
        while not done(latest):
            worker.assert_alive()
            if nudge is not None and time.monotonic() > next_nudge:
                nudge()
                next_nudge = time.monotonic() + 15
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out on {topic}; saw {latest}\n{worker.log.read_text()[-3000:]}")
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            key, value = msg.key() or b"", msg.value() or b""
            latest[orjson.loads(key) if json_keys else key.decode()] = value
    finally:
        consumer.close()
    return latest


@pytest.fixture
def smoke_env(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    app_id = f"smoke-{uuid.uuid4().hex[:10]}"
    env = dict(os.environ)
    env.update(
        SMOKE_APP_ID=app_id,
        SMOKE_BOOTSTRAP=kafka_bootstrap,
        SMOKE_DATADIR=str(tmp_path / "faust-data"),
        SMOKE_PARTITIONS="2",
        SMOKE_IN_TOPIC=new_topic("smoke.in", partitions=2),
        SMOKE_OUT_TOPIC=new_topic("smoke.out", partitions=1),
    )
    yield env
    kafka.delete_topics(kafka_bootstrap, [f"{app_id}-counts-changelog"])


def test_table_in_rocksdb_recovers_from_its_compacted_changelog(
    kafka_bootstrap: str, smoke_env: dict[str, str], tmp_path: Path
) -> None:
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for word, n in EXPECTED.items():
        for _ in range(n):
            producer.produce(smoke_env["SMOKE_IN_TOPIC"], key=word.encode(), value=b"+1")
    assert producer.flush(30) == 0

    changelog = f"{smoke_env['SMOKE_APP_ID']}-counts-changelog"
    worker = FaustWorker(smoke_env, tmp_path / "worker.log")
    worker.start()
    try:
        seen = consume_until(
            kafka_bootstrap,
            changelog,
            lambda latest: {k: int(v) for k, v in latest.items()} == EXPECTED,
            worker,
            timeout=90,
            json_keys=True,  # the table's keys are JSON-serialised strings
        )
        assert {k: int(v) for k, v in seen.items()} == EXPECTED

        groups = subprocess.run(
            [str(kafka.KAFKA_SH), "consumer-groups", "--bootstrap-server", kafka_bootstrap, "--list"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert smoke_env["SMOKE_APP_ID"] in groups

        assert kafka.topic_config(kafka_bootstrap, changelog)["cleanup.policy"] == "compact"
    finally:
        worker.stop()

    datadir = Path(smoke_env["SMOKE_DATADIR"])
    rocksdb_dirs = [p for p in datadir.rglob("counts-*.db") if p.is_dir()]
    assert rocksdb_dirs, f"no RocksDB partition directories under {datadir}"
    shutil.rmtree(datadir)

    def probe() -> None:
        """A probe reads a count without changing it, so sending it again is harmless."""
        for word in EXPECTED:
            producer.produce(smoke_env["SMOKE_IN_TOPIC"], key=word.encode(), value=b"?")
        assert producer.flush(30) == 0

    probe()
    worker.start()
    try:
        # A just-restarted Faust worker occasionally misses records that were waiting before its
        # group settled; the probes are re-sent if no reply comes (seen about 1 run in 5 here).
        replies = consume_until(
            kafka_bootstrap,
            smoke_env["SMOKE_OUT_TOPIC"],
            lambda latest: len(latest) == len(EXPECTED),
            worker,
            timeout=90,
            nudge=probe,
        )
    finally:
        worker.stop()
    assert {k: int(v) for k, v in replies.items()} == EXPECTED
    assert [p for p in datadir.rglob("counts-*.db") if p.is_dir()], "the restarted worker did not use RocksDB"
