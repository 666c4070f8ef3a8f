"""Real HTTP endpoints on 127.0.0.1 (aiohttp, in a background thread) that follow a script:
succeed, answer 503 with Retry-After, 429, stall, close the connection, 400, or be down.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from streamvane.commands.processes import free_port

# A script maps the 1-based number of a request to what to do with it.
Action = tuple[str, Any]  # ("status", (code, headers)) | ("stall", seconds) | ("close", None)
Script = Callable[[int], Action]


def ok(_: int) -> Action:
    return ("status", (200, {}))


def first(n: int, action: Action) -> Script:
    """``action`` for the first ``n`` requests, then 200."""
    return lambda i: action if i <= n else ("status", (200, {}))


@dataclass
class Received:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None


@dataclass
class ScriptedEndpoint:
    script: Script = ok
    port: int = field(default_factory=lambda: free_port())
    received: list[Received] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ScriptedEndpoint:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        got = Received(time.monotonic(), request.method, request.path_qs, dict(request.headers), body)
        self.received.append(got)
        kind, arg = self.script(len(self.received))
        if kind == "stall":
            await asyncio.sleep(arg)
            kind, arg = "status", (200, {})
        if kind == "close":
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("closed by script")
        status, headers = arg
        got.status = status
        return web.json_response({"status": status}, status=status, headers=headers)

    def keys(self, status: int | None = None) -> list[str]:
        """Idempotency keys of the requests, in arrival order (only answered ``status`` if given)."""
        return [
            r.headers.get("Idempotency-Key", "")
            for r in self.received
            if status is None or r.status == status
        ]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class TokenServer(ScriptedEndpoint):
    """An OAuth2 client-credentials token endpoint (``/token``) for client ``sv`` and ``secret``."""

    def __init__(self, secret: str, client_id: str = "sv") -> None:
        super().__init__()
        self.expected = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self.token = secrets.token_urlsafe(16)
        self.requests = 0
        self.start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        form = await request.post()
        if (
            request.headers.get("Authorization") != self.expected
            or form.get("grant_type") != "client_credentials"
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"access_token": self.issue(), "token_type": "Bearer", "expires_in": 3600})

    def issue(self) -> str:
        return self.token


class JwtTokenServer(TokenServer):
    """The same, issuing unsigned JWTs (``alg: none``, subject ``sub``, one hour): what Kafka's
    unsecured OAUTHBEARER validator (the dev broker's) accepts, and what an identity provider's
    tokens look like to a client."""

    def issue(self) -> str:
        def part(doc: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")

        now = int(time.time())
        return f"{part({'alg': 'none'})}.{part({'sub': 'streamvane', 'iat': now, 'exp': now + 3600})}."
