"""The demo's stand-in for Genesys Cloud's analytics API: the simulated contact center's own
figures, served the way Genesys serves them, so continuous reconciliation has something to judge
against in the demo.

``POST /oauth/token`` takes client credentials (HTTP basic client authentication) and answers a
bearer token; ``POST /api/v2/analytics/conversations/aggregates/query`` answers from the
simulator's ground truth at the query's granularity and time zone
(:func:`~streamvane.feeds.aggregates_query.answer_query`). It runs in a thread of the demo
process, on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
import threading
from typing import Any

from aiohttp import web

from streamvane.commands.processes import free_port
from streamvane.feeds.aggregates_query import QUERY_PATH, answer_query
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.simulator.contact_center import Conversation
from streamvane.simulator.truth import ground_truth


class GenesysStandIn:
    def __init__(
        self, conversations: list[Conversation], kpi: KpiConfig, client_id: str, secret: str
    ) -> None:
        self.conversations, self.kpi = conversations, kpi
        self._expected = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self._tokens: set[str] = set()
        self._truths: dict[tuple[str, str], dict[str, Any]] = {}
        self.queries = 0
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GenesysStandIn:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post(QUERY_PATH, self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _token(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("Authorization", ""), self._expected):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": 3600})

    async def _query(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self._tokens:
            return web.json_response({"message": "Invalid login credentials."}, status=401)
        body = await request.json()
        self.queries += 1
        return web.json_response(
            answer_query(body, self._truth(body["granularity"], body.get("timeZone", "UTC")))
        )

    def _truth(self, granularity: str, time_zone: str) -> dict[str, Any]:
        found = self._truths.get((granularity, time_zone))
        if found is None:
            grid = IntervalGrid(Granularity.parse(granularity), time_zone)
            cells = ground_truth(self.conversations, grid, self.kpi).cells
            found = self._truths[(granularity, time_zone)] = aggregates_response(cells, grid, self.kpi)
        return found
