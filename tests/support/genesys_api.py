"""A local server speaking Genesys Cloud's OAuth and aggregates-query contract, built on the
vendor's own Python SDK models (test scaffolding; the client under test is real).

- ``POST /oauth/token``: client credentials with HTTP basic client authentication; answers a
  fresh random token with ``expires_in``.
- ``POST /api/v2/analytics/conversations/aggregates/query``: needs a live bearer token (401
  otherwise). Every body is checked against the SDK: it must deserialize into
  ``ConversationAggregationQuery`` and serialize back to exactly what was sent (an unknown key or
  an enum value the SDK does not know would not), and every metric and groupBy dimension must be
  one the SDK's enums allow. The answer is the slice of ``truth`` (an aggregates document) that the
  query's interval and queue filter select, rebuilt from the SDK's response models.
- ``script(n)`` may replace the n-th query's answer: ``("status", (429, {"Retry-After": "2"}))``,
  or ``("revoke", None)`` (every token becomes invalid: the query gets a 401).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PureCloudPlatformClientV2 import ApiClient  # type: ignore[import-untyped]
from PureCloudPlatformClientV2.models import (  # type: ignore[import-untyped]
    AggregateMetricData,
    ConversationAggregateDataContainer,
    ConversationAggregateQueryPredicate,
    ConversationAggregateQueryResponse,
    ConversationAggregationView,
    StatisticalResponse,
    StatisticalSummary,
)

from streamvane.commands.processes import free_port
from streamvane.feeds.aggregates_query import answer_query

Action = tuple[str, Any]
QUERY_PATH = "/api/v2/analytics/conversations/aggregates/query"


def answer(_: int) -> Action:
    return ("answer", None)


class _Raw:
    """What ``ApiClient.deserialize`` reads: a body and its content type."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def getheader(self, _name: str) -> str:
        return "application/json"


def sdk_problems(body: dict[str, Any]) -> list[str]:
    """Why ``body`` is not a ConversationAggregationQuery the SDK accepts (empty: it is)."""
    api = ApiClient()
    model = api.deserialize(_Raw(json.dumps(body).encode()), "ConversationAggregationQuery")
    problems = []
    back = api.sanitize_for_serialization(model)
    if back != body:
        problems.append(f"does not survive the SDK model: sent {body!r}, the model holds {back!r}")
    for metric in body.get("metrics", []):
        view = ConversationAggregationView()
        view.target = metric
        if view.target != metric:
            problems.append(f"metric {metric!r} is not in the SDK's enum")
    for dimension in body.get("groupBy", []):
        predicate = ConversationAggregateQueryPredicate()
        predicate.dimension = dimension
        if predicate.dimension != dimension:
            problems.append(f"groupBy {dimension!r} is not in the SDK's enum")
    return problems


def sdk_response(results: list[dict[str, Any]]) -> dict[str, Any]:
    """An aggregates document rebuilt from the SDK's response models (numbers as the SDK types
    them: float sums, minima and maxima)."""
    containers = []
    for result in results:
        container = ConversationAggregateDataContainer()
        container.group = dict(result["group"])
        container.data = []
        for data in result["data"]:
            response = StatisticalResponse()
            response.interval = data["interval"]
            response.metrics = []
            for row in data["metrics"]:
                metric = AggregateMetricData()
                metric.metric = row["metric"]
                stats = StatisticalSummary()
                for name, value in row["stats"].items():
                    setattr(stats, name, value if name == "count" else float(value))
                metric.stats = stats
                response.metrics.append(metric)
            container.data.append(response)
        containers.append(container)
    doc = ConversationAggregateQueryResponse()
    doc.results = containers
    out: dict[str, Any] = ApiClient().sanitize_for_serialization(doc)
    return out


@dataclass
class GenesysContractServer:
    truth: dict[str, Any]
    client_id: str = "streamvane-test-client"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    token_lifetime_s: int = 3600
    script: Callable[[int], Action] = answer
    port: int = field(default_factory=free_port)
    queries: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._valid: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post(QUERY_PATH, self._query)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _token(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = await request.post()
        if (
            request.headers.get("Authorization") != f"Basic {expected}"
            or form.get("grant_type") != "client_credentials"
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self.tokens.append(token)
        self._valid.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime_s}
        )

    async def _query(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.queries.append(body)
        self.problems.extend(sdk_problems(body))
        kind, arg = self.script(len(self.queries))
        if kind == "revoke":
            self._valid.clear()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self._valid:
            return self._status(401, {}, {"message": "Invalid login credentials.", "code": "bad.credentials"})
        if kind == "status":
            status, headers = arg
            return self._status(status, headers, {"message": f"scripted {status}", "status": status})
        return self._status(200, {}, sdk_response(answer_query(body, self.truth)["results"]))

    def _status(self, status: int, headers: dict[str, str], doc: dict[str, Any]) -> web.Response:
        self.statuses.append(status)
        return web.json_response(doc, status=status, headers=headers)
