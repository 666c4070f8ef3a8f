"""One record's delivery: attempts with retries until acknowledged, refused or out of time.

The contract (policy in :mod:`streamvane.feeds.retry_policy`):
- 2xx is delivered; 401 with OAuth2 drops the cached token and retries at once (once per delivery);
- retryable failures (connection errors, timeouts, retryable statuses) wait full-jitter backoff or
  the clamped ``Retry-After`` and try again, unless the next attempt would start after the
  deadline: then the outcome is ``deadline-exceeded``;
- any other status is ``rejected`` at once.
Each attempt is reported to ``on_attempt`` before the next starts; texts are redacted.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.request import DeliveryRequest
from streamvane.feeds.secrets import SecretUnavailableError
from streamvane.sinks.auth import AuthError, AuthProvider
from streamvane.sinks.redaction import Redactor

EXCERPT_BYTES = 512


def http_session() -> aiohttp.ClientSession:
    """The dispatcher's client: no cookies (a WFM endpoint must not steer us with state), and
    connection reuse across deliveries to the same origin."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), connector=aiohttp.TCPConnector(limit=256, limit_per_host=0)
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    started_ms: int
    latency_ms: int
    status: int | None
    error: str | None
    retry_after: str | None
    excerpt: str


@dataclass(slots=True)
class Outcome:
    result: str  # delivered | rejected | deadline-exceeded
    attempts: list[Attempt] = field(default_factory=list)
    finished_ms: int = 0

    @property
    def delivered(self) -> bool:
        return self.result == "delivered"

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass
class Endpoint:
    """What all deliveries to one origin share: auth, TLS, the concurrency limit."""

    auth: AuthProvider
    ssl: object
    limit: asyncio.Semaphore


class Deliverer:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        redactor: Redactor,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.redact = redactor
        self.rng = rng or random.Random()

    async def deliver(
        self,
        profile: FeedProfile,
        endpoint: Endpoint,
        request: DeliveryRequest,
        deadline_ms: int,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> Outcome:
        assert profile.endpoint is not None
        spec = profile.endpoint
        limits = aiohttp.ClientTimeout(total=spec.timeout_ms / 1000, connect=spec.connect_timeout_ms / 1000)
        outcome = Outcome("deadline-exceeded")
        refreshed = False
        while True:
            attempt = await self._attempt(len(outcome.attempts) + 1, endpoint, request, limits)
            outcome.attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            status = attempt.status
            if status is not None and 200 <= status < 300:
                outcome.result = "delivered"
                break
            now = now_ms()
            if status == 401 and endpoint.auth.refreshable and not refreshed:
                endpoint.auth.invalidate()
                refreshed = True
                continue
            if status is not None and not profile.retry.retryable(status):
                outcome.result = "rejected"
                break
            wait = profile.retry.wait_ms(attempt.number, attempt.retry_after, now, self.rng)
            if now + wait > deadline_ms:
                outcome.result = "deadline-exceeded"
                break
            await asyncio.sleep(wait / 1000)
        outcome.finished_ms = now_ms()
        return outcome

    async def _attempt(
        self, number: int, endpoint: Endpoint, request: DeliveryRequest, limits: aiohttp.ClientTimeout
    ) -> Attempt:
        started = now_ms()
        t0 = time.perf_counter()
        status: int | None = None
        error: str | None = None
        retry_after: str | None = None
        excerpt = ""
        async with endpoint.limit:
            try:
                headers = dict(request.headers)
                authorization = await endpoint.auth.header(self.session)
                if authorization is not None:
                    headers["Authorization"] = authorization
                async with self.session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=headers,
                    timeout=limits,
                    ssl=endpoint.ssl,  # type: ignore[arg-type]
                ) as resp:
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
                    excerpt = (await resp.content.read(EXCERPT_BYTES)).decode("utf-8", "replace")
            except (AuthError, SecretUnavailableError) as exc:
                error = f"auth: {exc}"
            except TimeoutError:
                error = "timeout"
            except aiohttp.ClientError as exc:
                error = f"connection: {type(exc).__name__}"
        latency = round((time.perf_counter() - t0) * 1000)
        return Attempt(
            number,
            started,
            latency,
            status,
            self.redact(error) if error else None,
            retry_after,
            self.redact(excerpt),
        )
