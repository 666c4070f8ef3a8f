"""One record's delivery: attempts with retries until acknowledged, refused or out of time.

The contract (policy in :mod:`streamvane.feeds.retry_policy`):
- 2xx is delivered; 401 with OAuth2 drops the cached token and retries at once (once per delivery);
- retryable failures (connection errors, timeouts, retryable statuses) wait full-jitter backoff or
  the clamped ``Retry-After`` and try again, unless the next attempt would start after the
  deadline: then the outcome is ``deadline-exceeded``;
- any other status is ``rejected`` at once;
- a configuration fault (a secret that is not there; :class:`~streamvane.errors.ConfigError`) is
  ``config-error`` at once: it cannot fix itself, so it is never retried.
Each attempt is announced to ``on_start`` (number, start time), and its request is sent only once
that announcement is done (awaited: the dispatcher makes it durable first), and
reported to ``on_attempt`` when it ends; attempt numbers continue from ``first_number`` (the
attempts a previous run already made). Texts are redacted. Clock and sleep are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

from streamvane.errors import StreamvaneError
from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.request import DeliveryRequest
from streamvane.feeds.secrets import SecretRef
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.outcome import Attempt, Outcome
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


@dataclass
class Endpoint:
    """One profile's way to its endpoint: auth, TLS, its own concurrency limit and, when the
    settings cap the origin it shares with other profiles, that origin's limit."""

    auth: AuthProvider
    ssl: object
    limit: asyncio.Semaphore
    origin_limit: asyncio.Semaphore | None = None
    secret_headers: Mapping[str, SecretRef] = field(default_factory=dict)


class Deliverer:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        redactor: Redactor,
        rng: random.Random | None = None,
        clock: Callable[[], int] = now_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.redact = redactor
        self.rng = rng or random.Random()
        self.clock, self.sleep = clock, sleep

    async def deliver(
        self,
        profile: FeedProfile,
        endpoint: Endpoint,
        request: DeliveryRequest,
        deadline_ms: int,
        on_attempt: Callable[[Attempt], None] | None = None,
        on_start: Callable[[int, int], Awaitable[None]] | None = None,
        first_number: int = 1,
    ) -> Outcome:
        assert profile.endpoint is not None
        spec = profile.endpoint
        limits = aiohttp.ClientTimeout(total=spec.timeout_ms / 1000, connect=spec.connect_timeout_ms / 1000)
        outcome = Outcome(Result.DEADLINE_EXCEEDED)
        refreshed = False
        number = first_number
        while True:
            attempt, final = await self._attempt(number, endpoint, request, limits, on_start)
            number += 1
            outcome.attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            status = attempt.status
            if final:
                outcome.result = Result.CONFIG_ERROR
                break
            if status is not None and 200 <= status < 300:
                outcome.result = Result.DELIVERED
                break
            now = self.clock()
            if status == 401 and endpoint.auth.refreshable and not refreshed:
                endpoint.auth.invalidate()
                refreshed = True
                continue
            if status is not None and not profile.retry.retryable(status):
                outcome.result = Result.REJECTED
                break
            wait = profile.retry.wait_ms(len(outcome.attempts), attempt.retry_after, now, self.rng)
            if now + wait > deadline_ms:
                outcome.result = Result.DEADLINE_EXCEEDED
                break
            await self.sleep(wait / 1000)
        outcome.finished_ms = self.clock()
        return outcome

    async def _attempt(
        self,
        number: int,
        endpoint: Endpoint,
        request: DeliveryRequest,
        limits: aiohttp.ClientTimeout,
        on_start: Callable[[int, int], Awaitable[None]] | None,
    ) -> tuple[Attempt, bool]:
        """The attempt, and whether its failure is final (a configuration fault)."""
        status: int | None = None
        error: str | None = None
        retry_after: str | None = None
        excerpt = ""
        final = False
        async with endpoint.limit, endpoint.origin_limit or contextlib.nullcontext():
            started = self.clock()
            if on_start is not None:
                await on_start(number, started)
            t0 = time.perf_counter()
            try:
                headers = dict(request.headers)
                for name, ref in endpoint.secret_headers.items():
                    headers[name] = value = ref.resolve().reveal()
                    self.redact.add(value)
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
            except StreamvaneError as exc:
                final = not exc.retriable
                error = f"{'config' if final else 'auth'}: {exc}"
            except TimeoutError:
                error = "timeout"
            except aiohttp.ClientConnectorCertificateError as exc:
                error = (
                    f"tls: the endpoint's certificate is not trusted ({_tls_reason(exc.certificate_error)})"
                )
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc, aiohttp.ClientSSLError) or isinstance(exc.os_error, ssl.SSLError):
                    error = f"tls: handshake refused ({_tls_reason(exc.os_error)})"
                elif request.url.startswith("https:") and isinstance(exc.os_error, ConnectionError):
                    error = (
                        "tls: handshake refused (the endpoint closed the connection: no TLS version at or "
                        "above the profile's tls.min_version, or it requires a client certificate)"
                    )
                else:
                    error = f"connection: {type(exc).__name__}"
            except aiohttp.ClientError as exc:
                error = f"connection: {type(exc).__name__}"
            latency = round((time.perf_counter() - t0) * 1000)
        attempt = Attempt(
            number,
            started,
            latency,
            status,
            self.redact(error) if error else None,
            retry_after,
            self.redact(excerpt),
        )
        return attempt, final


def _tls_reason(exc: BaseException) -> str:
    """OpenSSL's reason (``TLSV1_ALERT_PROTOCOL_VERSION``, ``CERTIFICATE_VERIFY_FAILED``…), with a
    word on what it means when it is the version policy."""
    reason = getattr(exc, "reason", None) or getattr(exc, "verify_message", None) or type(exc).__name__
    if (
        "PROTOCOL_VERSION" in str(reason)
        or "UNSUPPORTED_PROTOCOL" in str(reason)
        or "NO_PROTOCOLS" in str(reason)
    ):
        return f"{reason}: no TLS version both sides allow (the profile's tls.min_version)"
    return str(reason)
