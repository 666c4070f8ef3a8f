"""The ingest endpoint's contract, with a fake broker at the transport seam and an injected clock:
2xx only once everything is stored, the right status for every refusal, and no secret echoed."""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streamvane.broker.acked_producer import Message, QueueFullError
from streamvane.broker.producer import ProduceError
from streamvane.genesys.parse import EventParser
from streamvane.web.ingest_app import IngestConfig, IngestMetrics, create_ingest_app
from streamvane.web.ingest_auth import IngestAuth, IngestCredentials

EVENTS = [line for line in Path(__file__).with_name("events.jsonl").read_bytes().splitlines() if line]
API_KEY = "api-key-3c9f1e"
Client = TestClient[web.Request, web.Application]
NOW_MS = 1_793_610_000_000  # 2026-11-02T09:00Z, after the sample events


class FakeBroker:
    """Stores what it is sent; told to fail the way librdkafka does."""

    def __init__(self) -> None:
        self.stored: list[Message] = []
        self.failure: Exception | None = None

    async def send(self, messages: Sequence[Message]) -> None:
        if self.failure is not None:
            raise self.failure
        self.stored.extend(messages)


@pytest.fixture
async def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
async def client(broker: FakeBroker) -> AsyncIterator[Client]:
    auth = IngestAuth(
        IngestCredentials(
            api_keys=(API_KEY,),
            basic=("eventbridge", "basic-pw-77"),
            clients={"eb": "cs-91"},
            signing_key=b"k" * 32,
        ),
        clock=lambda: NOW_MS / 1000,
    )
    config = IngestConfig("events", "quarantine", max_body_bytes=64 * 1024, max_events=50, retry_after_s=7)
    app = create_ingest_app(config, auth, broker, EventParser(), IngestMetrics(), clock_ms=lambda: NOW_MS)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


HEADERS = {"x-api-key": API_KEY}


async def test_a_batch_is_stored_keyed_by_conversation_and_counted(
    client: Client, broker: FakeBroker
) -> None:
    body = b"[" + b",".join(EVENTS) + b"]"
    response = await client.post("/events", data=body, headers=HEADERS)
    doc = await response.json()
    assert response.status == 200, doc
    assert (doc["accepted"], doc["rejected"], doc["ignored"]) == (len(EVENTS), 0, 0)
    assert [m.topic for m in broker.stored] == ["events"] * len(EVENTS)
    for message in broker.stored:
        body_doc = orjson.loads(message.value)["detail"]["eventBody"]
        assert message.key == body_doc["conversationId"].encode()


async def test_invalid_events_go_to_quarantine_with_reasons_beside_the_valid_ones(
    client: Client,
    broker: FakeBroker,
) -> None:
    body = EVENTS[0] + b"\n{not json\n" + b'{"detail": {}}\n'
    response = await client.post(
        "/events", data=body, headers={**HEADERS, "Content-Type": "application/x-ndjson"}
    )
    doc = await response.json()
    assert response.status == 200
    assert (doc["accepted"], doc["rejected"]) == (1, 2)
    assert [r["index"] for r in doc["rejections"]] == [1, 2]
    quarantined = [m for m in broker.stored if m.topic == "quarantine"]
    assert [m.value for m in quarantined] == [b"{not json", b'{"detail": {}}']
    headers = dict(quarantined[0].headers)
    assert headers["reason"] == doc["rejections"][0]["reason"].encode()
    assert headers["source"] == f"http/{doc['requestId']}/1".encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "wrong"},
        {"Authorization": "Basic " + base64.b64encode(b"eventbridge:nope").decode()},
    ],
)
async def test_without_a_valid_credential_nothing_is_stored(
    client: Client,
    broker: FakeBroker,
    headers: dict[str, str],
) -> None:
    response = await client.post("/events", data=EVENTS[0], headers=headers)
    assert response.status == 401
    assert "WWW-Authenticate" in response.headers
    assert broker.stored == []
    assert API_KEY not in await response.text()


async def test_basic_and_an_oauth_token_from_our_token_endpoint_are_accepted(
    client: Client,
    broker: FakeBroker,
) -> None:
    basic = "Basic " + base64.b64encode(b"eventbridge:basic-pw-77").decode()
    assert (await client.post("/events", data=EVENTS[0], headers={"Authorization": basic})).status == 200
    refused = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "eb", "client_secret": "x"}
    )
    assert refused.status == 401
    issued = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(b"eb:cs-91").decode()},
    )
    token = (await issued.json())["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/events", data=EVENTS[1], headers=bearer)).status == 200
    forged = {"Authorization": f"Bearer {token[:-2]}xx"}
    assert (await client.post("/events", data=EVENTS[1], headers=forged)).status == 401
    assert len(broker.stored) == 2


async def test_broker_trouble_is_503_and_a_full_queue_429_both_with_retry_after(
    client: Client,
    broker: FakeBroker,
) -> None:
    broker.failure = ProduceError("Local: Message timed out")
    unavailable = await client.post("/events", data=EVENTS[0], headers=HEADERS)
    assert (unavailable.status, unavailable.headers["Retry-After"]) == (503, "7")
    broker.failure = QueueFullError("100000 messages already waiting")
    busy = await client.post("/events", data=EVENTS[0], headers=HEADERS)
    assert (busy.status, busy.headers["Retry-After"]) == (429, "7")


async def test_oversized_compressed_bombs_and_deep_nesting_are_refused(
    client: Client,
    broker: FakeBroker,
) -> None:
    too_big = await client.post("/events", data=b"x" * (65 * 1024), headers=HEADERS)
    assert too_big.status == 413
    bomb = gzip.compress(b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert len(bomb) < 64 * 1024
    inflated = await client.post("/events", data=bomb, headers={**HEADERS, "Content-Encoding": "gzip"})
    assert (inflated.status, (await inflated.json())["error"]) == (413, "too-large")
    deep = await client.post("/events", data=b"[" * 10_000 + b"]" * 10_000, headers=HEADERS)
    assert (deep.status, (await deep.json())["error"]) == (400, "too-deep")
    many = await client.post("/events", data=b"\n".join(EVENTS[:1] * 51), headers=HEADERS)
    assert (many.status, (await many.json())["error"]) == (413, "too-many-events")
    small = gzip.compress(EVENTS[0])
    ok = await client.post("/events", data=small, headers={**HEADERS, "Content-Encoding": "gzip"})
    assert ok.status == 200
    assert len(broker.stored) == 1


async def test_probes_and_metrics_need_no_credential(client: Client, broker: FakeBroker) -> None:
    await client.post("/events", data=EVENTS[0], headers=HEADERS)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'streamvane_ingest_events_total{result="accepted"} 1.0' in metrics
    assert 'streamvane_ingest_requests_total{status="200"} 1.0' in metrics
