"""``streamvane ingest``: the HTTP endpoint that gets Genesys events into Kafka without code.

``POST <path>`` takes one EventBridge event, a JSON array of them, or NDJSON (gzip or deflate
``Content-Encoding`` allowed). Each event is judged by the parser the worker uses:

- a conversation event is produced to the event topic, keyed by its conversationId;
- a well-formed event of a topic the KPIs do not use is counted as ``ignored`` and not stored;
- anything else goes to the quarantine topic with its reason (source ``http/<request id>/<n>``).

**2xx means durable**: the answer waits until the broker has acknowledged every message of the
request (``acks=all``, idempotent producer). The answers, and what a caller should do:

- 200: all stored; the body counts accepted, rejected (with reasons) and ignored. No retry.
- 400: the body is not JSON, NDJSON or an array of events, or is nested deeper than 1,024
  levels. No retry.
- 401: no valid credential (an API key, basic, or a bearer token from ``POST /oauth/token``).
- 413: the body, decompressed, is larger than ``max_body_bytes``, or has too many events.
- 429 with ``Retry-After``: too many requests in flight, or too many events waiting for the
  broker. Retry.
- 503 with ``Retry-After``: the broker did not acknowledge in time. Retry: nothing is lost, and
  re-posting is safe, since the worker counts a re-delivered event once.

``GET /healthz`` (the loop answers), ``GET /readyz`` (the broker was reachable at start and the
producer works) and ``GET /metrics`` need no credential.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

from streamvane.broker.acked_producer import Message, QueueFullError
from streamvane.broker.producer import ProduceError
from streamvane.genesys.events import ConversationEvent, Rejection
from streamvane.genesys.parse import EventParser
from streamvane.genesys.posted import PostedBodyError, split_events
from streamvane.web.ingest_auth import IngestAuth

MAX_REJECTIONS_LISTED = 100
_READ_CHUNK = 64 * 1024


class EventSink(Protocol):
    async def send(self, messages: Sequence[Message]) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestConfig:
    events_topic: str
    quarantine_topic: str
    path: str = "/events"
    max_body_bytes: int = 8 * 1024 * 1024
    max_events: int = 10_000
    request_timeout_s: float = 30.0
    max_in_flight: int = 256
    retry_after_s: int = 5


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = PromCounter(
            "streamvane_ingest_events",
            "Posted events, by result (accepted, rejected, ignored).",
            ["result"],
            registry=r,
        )
        self.rejected = PromCounter(
            "streamvane_ingest_rejected", "Posted events quarantined, by reason.", ["reason"], registry=r
        )
        self.requests = PromCounter(
            "streamvane_ingest_requests", "Ingest requests, by answered status.", ["status"], registry=r
        )
        self.produce_seconds = Histogram(
            "streamvane_ingest_produce_seconds",
            "From a request's events handed to the producer to the broker's last acknowledgement.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.in_flight = Gauge("streamvane_ingest_in_flight", "Requests being processed.", registry=r)


class _Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.retry_after = status, reason, detail, retry_after


def create_ingest_app(
    config: IngestConfig,
    auth: IngestAuth,
    sink: EventSink,
    parser: EventParser,
    metrics: IngestMetrics,
    ready: Callable[[], str | None] = lambda: None,
    clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> web.Application:
    in_flight = [0]

    async def post_events(request: web.Request) -> web.Response:
        if in_flight[0] >= config.max_in_flight:
            return _answer(
                metrics, _Refused(429, "busy", "too many requests in flight", config.retry_after_s)
            )
        in_flight[0] += 1
        metrics.in_flight.inc()
        try:
            async with asyncio.timeout(config.request_timeout_s):
                return await _handle(request)
        except _Refused as refused:
            return _answer(metrics, refused)
        except TimeoutError:
            return _answer(
                metrics, _Refused(503, "timeout", "the request took too long", config.retry_after_s)
            )
        finally:
            in_flight[0] -= 1
            metrics.in_flight.dec()

    async def _handle(request: web.Request) -> web.Response:
        if auth.caller(request.headers) is None:
            raise _Refused(401, "unauthorized", "a valid API key, basic or bearer credential is required")
        body = await _read_body(request, config.max_body_bytes)
        try:
            posted = split_events(body, request.headers.get("Content-Type", "application/json"))
        except PostedBodyError as exc:
            raise _Refused(400, exc.reason, exc.detail) from None
        if len(posted.events) > config.max_events:
            raise _Refused(
                413, "too-many-events", f"{len(posted.events)} events; at most {config.max_events}"
            )
        request_id = uuid.uuid4().hex[:16]
        now = clock_ms()
        messages: list[Message] = []
        results: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        rejections: list[dict[str, Any]] = []
        for index, raw in enumerate(posted.events):
            parsed = parser.parse(raw, now)
            if type(parsed) is ConversationEvent:
                messages.append(Message(config.events_topic, raw, parsed.conversation_id.encode()))
                results["accepted"] += 1
            elif isinstance(parsed, Rejection):
                headers = (
                    ("reason", parsed.reason.encode()),
                    ("detail", parsed.detail.encode()[:1000]),
                    ("source", f"http/{request_id}/{index}".encode()),
                    ("by-reference", b"false"),
                )
                messages.append(Message(config.quarantine_topic, raw, None, headers))
                results["rejected"] += 1
                reasons[parsed.reason] += 1
                if len(rejections) < MAX_REJECTIONS_LISTED:
                    rejections.append(
                        {"index": index, "reason": parsed.reason, "detail": parsed.detail[:300]}
                    )
            else:
                results["ignored"] += 1
        started = time.perf_counter()
        try:
            await sink.send(messages)
        except QueueFullError as exc:
            raise _Refused(429, "backpressure", str(exc), config.retry_after_s) from None
        except ProduceError as exc:
            raise _Refused(503, "broker-unavailable", str(exc), config.retry_after_s) from None
        metrics.produce_seconds.observe(time.perf_counter() - started)
        for result, count in results.items():
            metrics.events.labels(result).inc(count)
        for reason, count in reasons.items():
            metrics.rejected.labels(reason).inc(count)
        metrics.requests.labels("200").inc()
        doc = {
            "requestId": request_id,
            "accepted": results["accepted"],
            "rejected": results["rejected"],
            "ignored": results["ignored"],
            "rejectedByReason": dict(reasons),
            "rejections": rejections,
        }
        return web.json_response(doc, dumps=lambda d: orjson.dumps(d).decode())

    async def token(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        issued = auth.issue(form, request.headers.get("Authorization"))
        if issued is None:
            metrics.requests.labels("401").inc()
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in},
            headers={"Cache-Control": "no-store"},
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        waiting = ready()
        if waiting is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {waiting}\n")

    async def metrics_page(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app.router.add_post(config.path, post_events)
    app.router.add_post("/oauth/token", token)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, decompressed, refused as soon as it passes ``limit`` bytes. aiohttp inflates a
    gzip or deflate body as it streams, in bounded steps, so a compression bomb is refused after
    ``limit`` bytes of output, never inflated whole."""
    if request.content_length is not None and request.content_length > limit:
        raise _Refused(413, "too-large", f"{request.content_length} bytes; at most {limit}")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "deflate"):
        raise _Refused(415, "unsupported-encoding", f"Content-Encoding {encoding[:40]!r}; gzip or deflate")
    out = bytearray()
    async for chunk in request.content.iter_chunked(_READ_CHUNK):
        out += chunk
        if len(out) > limit:
            raise _Refused(
                413, "too-large", f"more than {limit} bytes{'' if encoding == 'identity' else ' inflated'}"
            )
    return bytes(out)


def _answer(metrics: IngestMetrics, refused: _Refused) -> web.Response:
    metrics.requests.labels(str(refused.status)).inc()
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
    if refused.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="streamvane-ingest", Basic realm="streamvane-ingest"'
    return web.json_response(
        {"error": refused.reason, "detail": refused.detail}, status=refused.status, headers=headers
    )
