"""`streamvane ingest` as a real process on the real broker: what an EventBridge API destination
posts lands on the event topic intact and keyed by conversation, 2xx only once stored, 503 while
the broker is away, and nothing at all without credentials or for a hostile body."""

from __future__ import annotations

import gzip
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.topic_reader import read_to_end
from streamvane.commands.processes import free_port
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support import kafka
from tests.support.certificates import pki
from tests.support.expectations import expected_cells

pytestmark = pytest.mark.integration

API_KEY = "ingest-key-5b7e21"
SPEC = SimulationSpec(agents=10, hours=0.5, seed=12, duplicate_rate=0.02)
LINES = [line for _, line in delivery(SPEC, simulate(SPEC))]


@dataclass
class IngestProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    events: str
    quarantine: str

    def post(
        self, body: bytes, headers: dict[str, str] | None = None, key: str | None = API_KEY
    ) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` with the API key ``key`` (None: no key) and ``headers``."""
        sent = {"x-api-key": key} if key is not None else {}
        request = urllib.request.Request(  # noqa: S310 (http on 127.0.0.1)
            self.url + "/events", data=body, headers={**sent, **(headers or {})}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def readiness(self) -> int:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=10) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def wait_readiness(self, status: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.readiness() != status:
            assert time.monotonic() < deadline, f"/readyz never answered {status}"
            time.sleep(0.5)


@pytest.fixture
def start_ingest(tmp_path: Path) -> Iterator[Callable[..., IngestProcess]]:
    started: list[IngestProcess] = []

    def start(bootstrap: str, **settings: str) -> IngestProcess:
        run = uuid.uuid4().hex[:12]
        port = free_port()
        events, quarantine = f"test.ingest-events.{run}", f"test.ingest-quarantine.{run}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
        env.update(
            STREAMVANE_KAFKA__BOOTSTRAP_SERVERS=bootstrap,
            STREAMVANE_KAFKA__PARTITIONS="3",
            STREAMVANE_TOPICS__EVENTS=events,
            STREAMVANE_TOPICS__QUARANTINE=quarantine,
            STREAMVANE_INGEST__PORT=str(port),
            STREAMVANE_INGEST__API_KEYS='[{"env": "SV_INGEST_KEY"}]',
            STREAMVANE_INGEST__MAX_BODY_BYTES=str(8 * 1024 * 1024),
            SV_INGEST_KEY=API_KEY,
            **settings,
        )
        log = tmp_path / f"ingest-{len(started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamvane", "ingest"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        process = IngestProcess(proc, f"http://127.0.0.1:{port}", log, events, quarantine)
        started.append(process)
        deadline = time.monotonic() + 60
        while "ingest: http" not in log.read_text():
            assert process.alive(), log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        return process

    yield start
    for process in started:
        process.proc.terminate()
        process.proc.wait(timeout=30)


def read_back(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    return [(m.key(), m.value() or b"") for m in read_to_end(KafkaConnection.plaintext(bootstrap), topic)]


def test_a_posted_batch_is_on_the_event_topic_intact_and_keyed_by_conversation(
    kafka_bootstrap: str, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap)
    batch = LINES[:100]
    status, _, body = ingest.post(b"[" + b",".join(batch) + b"]")
    assert status == 200, body
    assert orjson.loads(body)["accepted"] == 100
    stored = read_back(kafka_bootstrap, ingest.events)
    assert sorted(value for _, value in stored) == sorted(orjson.dumps(orjson.loads(line)) for line in batch)
    for key, value in stored:
        assert key == orjson.loads(value)["detail"]["eventBody"]["conversationId"].encode()
    ndjson = b"\n".join(LINES[100:200])
    status, _, body = ingest.post(ndjson, {"Content-Type": "application/x-ndjson"})
    assert status == 200 and orjson.loads(body)["accepted"] == 100
    assert len(read_back(kafka_bootstrap, ingest.events)) == 200
    kafka.delete_topics(kafka_bootstrap, [ingest.events, ingest.quarantine])


def test_wrong_credentials_get_401_and_produce_nothing(
    kafka_bootstrap: str, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap)
    for headers in ({"x-api-key": "not-the-key"}, {"x-api-key": ""}, {"Authorization": "Bearer forged"}):
        status, _, body = ingest.post(LINES[0], headers, key=None)
        assert status == 401, body
        assert API_KEY.encode() not in body
    assert read_back(kafka_bootstrap, ingest.events) == []
    assert read_back(kafka_bootstrap, ingest.quarantine) == []
    assert API_KEY not in ingest.log.read_text()
    kafka.delete_topics(kafka_bootstrap, [ingest.events, ingest.quarantine])


def test_hostile_bodies_are_refused_and_the_process_is_unharmed(
    kafka_bootstrap: str, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap)
    status, _, body = ingest.post(b"[" + b" " * (50 * 1024 * 1024) + b"]")
    assert (status, orjson.loads(body)["error"]) == (413, "too-large")
    bomb = gzip.compress(b"[" + b" " * (1024 * 1024 * 1024) + b"]", compresslevel=9)
    status, _, body = ingest.post(bomb, {"Content-Encoding": "gzip"})
    assert (status, orjson.loads(body)["error"]) == (413, "too-large")
    status, _, body = ingest.post(b"[" * 10_000 + b"]" * 10_000)
    assert (status, orjson.loads(body)["error"]) == (400, "too-deep")
    assert ingest.alive()
    status, _, body = ingest.post(LINES[0])
    assert status == 200, body
    rss_kib = int(Path(f"/proc/{ingest.proc.pid}/status").read_text().split("VmHWM:")[1].split()[0])
    assert rss_kib < 400 * 1024, f"peak memory {rss_kib} KiB: a body was held whole"
    assert len(read_back(kafka_bootstrap, ingest.events)) == 1
    kafka.delete_topics(kafka_bootstrap, [ingest.events, ingest.quarantine])


def test_a_batch_posted_while_the_broker_is_down_gets_503_and_once_reposted_counts_once(
    tmp_path: Path, start_ingest: Callable[..., IngestProcess]
) -> None:
    first, second = LINES[: len(LINES) // 2], LINES[len(LINES) // 2 :]
    with kafka.spare_broker(tmp_path / "broker") as broker:
        ingest = start_ingest(broker.bootstrap, STREAMVANE_INGEST__PRODUCE_TIMEOUT_S="3")
        status, _, body = ingest.post(b"\n".join(first))
        assert status == 200, body
        broker.stop()
        started = time.monotonic()
        status, headers, body = ingest.post(b"\n".join(second))
        assert (status, orjson.loads(body)["error"]) == (503, "broker-unavailable"), body
        assert int(headers["Retry-After"]) > 0
        assert time.monotonic() - started < 15
        ingest.wait_readiness(503)  # the Service stops sending it traffic
        broker.start()
        ingest.wait_readiness(200, timeout=60)
        deadline = time.monotonic() + 120
        while (status := ingest.post(b"\n".join(second))[0]) != 200:  # as EventBridge retries
            assert status in (429, 503) and time.monotonic() < deadline, status
            time.sleep(1)
        assert ingest.alive()
        stored = [value for _, value in read_back(broker.bootstrap, ingest.events)]
    assert len(stored) >= len(LINES), "nothing lost"
    for cadence, zone in (("PT15M", "UTC"), ("PT30M", "Asia/Kolkata")):
        assert expected_cells(cadence, zone, stored) == expected_cells(cadence, zone, LINES), (
            "each event once"
        )


def test_with_a_client_ca_configured_only_callers_with_its_certificate_get_in(
    kafka_bootstrap: str, start_ingest: Callable[..., IngestProcess], tmp_path: Path
) -> None:
    certs = pki(tmp_path)
    ingest = start_ingest(
        kafka_bootstrap,
        STREAMVANE_INGEST__TLS_CERT_FILE=str(certs.server_cert),
        STREAMVANE_INGEST__TLS_KEY_FILE=str(certs.server_key),
        STREAMVANE_INGEST__TLS_CLIENT_CA_FILE=str(certs.ca),
    )
    url = ingest.url.replace("http://", "https://") + "/events"
    trusting = ssl.create_default_context(cafile=str(certs.ca))

    def post(context: ssl.SSLContext) -> int:
        request = urllib.request.Request(url, data=LINES[0], headers={"x-api-key": API_KEY}, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            return int(response.status)

    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionResetError)):
        post(trusting)  # no client certificate
    trusting.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    assert post(trusting) == 200
    assert len(read_back(kafka_bootstrap, ingest.events)) == 1
    assert ingest.alive()
    kafka.delete_topics(kafka_bootstrap, [ingest.events, ingest.quarantine])
