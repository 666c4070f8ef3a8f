"""A small client for Genesys Cloud's conversation aggregates API, for reconciliation.

- **Token.** OAuth2 client credentials from ``https://login.<region>/oauth/token`` (HTTP basic
  client authentication), cached until shortly before ``expires_in``; a 401 from the API drops it
  and fetches a new one once per query. Region, client id and secret are secret references,
  checked when the client is made (a missing one fails at once, naming the reference); the token
  and the secret are registered with the redactor, so no log line or exception of this module
  can carry them.
- **Queries.** One POST per window of :func:`~streamvane.feeds.aggregates_query.query_windows`,
  in order; the responses are merged into one aggregates document.
- **Throttling and faults.** 429 and 5xx wait for ``Retry-After`` (seconds or an HTTP date,
  clamped) or a jittered backoff, then retry, up to ``max_attempts``; connection errors and
  timeouts likewise. Any other status fails at once with Genesys' status and message.

The clock-free parts (query bodies, windows, merging) are pure, in :mod:`streamvane.feeds`; this
shell only does HTTP. ``sleep`` is injected so tests see every wait without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from streamvane.errors import ConfigError, StreamvaneError
from streamvane.feeds.aggregates_query import QUERY_PATH, aggregates_query, merge_responses, query_windows
from streamvane.feeds.endpoint import OAuth2ClientCredentials
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.secrets import SecretRef, SecretUnavailableError
from streamvane.settings import GenesysSettings
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.redaction import Redactor

log = logging.getLogger("streamvane.genesys")
Sleep = Callable[[float], Awaitable[None]]
_DAY_MS = 86_400_000


class GenesysConfigError(ConfigError):
    """The client cannot be configured: a missing reference or an unresolvable secret."""


class GenesysApiError(StreamvaneError):
    """The API refused a query, or kept failing after every allowed attempt."""


@dataclass
class GenesysAnalytics:
    settings: GenesysSettings
    session: aiohttp.ClientSession
    redactor: Redactor = field(default_factory=Redactor)
    sleep: Sleep = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    queries: int = 0

    def __post_init__(self) -> None:
        s = self.settings
        self.login_url, self.api_url, client_id = endpoints(s)
        assert s.client_secret is not None
        self.redactor.add(_reveal("client_secret", s.client_secret))
        oauth = OAuth2ClientCredentials(
            type="oauth2",
            token_url=f"{self.login_url}/oauth/token",
            client_id=client_id,
            client_secret=s.client_secret,
        )
        self.auth = AuthProvider(oauth, self.redactor)

    async def aggregates(self, profile: FeedProfile, from_ms: int, to_ms: int) -> dict[str, Any]:
        """Genesys' aggregates for the profile's intervals in ``[from_ms, to_ms)``, one document."""
        max_window_ms = round(self.settings.max_window_days * _DAY_MS)
        windows = query_windows(profile, from_ms, to_ms, max_window_ms)
        responses = []
        for n, (start, end) in enumerate(windows, 1):
            body = aggregates_query(profile, start, end)
            responses.append(await self.query(body))
            log.info(
                "genesys: %s window %d of %d (%s) fetched", profile.id, n, len(windows), body["interval"]
            )
        return merge_responses(responses)

    async def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """One aggregates query, with the retries the module docstring describes."""
        s = self.settings
        url = self.api_url + QUERY_PATH
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.queries += 1
            try:
                authorization = await self.auth.header(self.session)
            except StreamvaneError as exc:
                if not exc.retriable or attempt >= s.max_attempts:
                    raise GenesysApiError(self.redactor(f"genesys: no token: {exc}")) from None
                await self._wait(attempt, None, f"token: {exc}")
                continue
            try:
                async with self.session.post(
                    url,
                    data=orjson.dumps(body),
                    headers={"Authorization": authorization or "", "Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=s.timeout_s),
                ) as resp:
                    status, raw, retry_after = resp.status, await resp.read(), resp.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError) as exc:
                if attempt >= s.max_attempts:
                    raise GenesysApiError(
                        f"genesys: {url} unreachable after {attempt} attempts: {type(exc).__name__}"
                    ) from None
                await self._wait(attempt, None, type(exc).__name__)
                continue
            if status == 200:
                try:
                    doc = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise GenesysApiError("genesys: the aggregates query answered 200 without JSON") from None
                if not isinstance(doc, dict):
                    raise GenesysApiError("genesys: the aggregates query answered 200 with a non-object")
                return doc
            if status == 401 and not refreshed:
                refreshed = True
                self.auth.invalidate()
                log.info("genesys: 401, fetching a new token")
                continue
            if (status == 429 or status >= 500) and attempt < s.max_attempts:
                await self._wait(attempt, retry_after, f"HTTP {status}")
                continue
            raise GenesysApiError(
                self.redactor(f"genesys: aggregates query answered {status}: {_message(raw)}")
            )

    async def _wait(self, attempt: int, retry_after: str | None, why: str) -> None:
        delay_ms = self.settings.retry.wait_ms(attempt, retry_after, time.time_ns() // 1_000_000, self.rng)
        log.warning(
            "genesys: %s; retrying in %.1f s (attempt %d)", self.redactor(why), delay_ms / 1000, attempt
        )
        await self.sleep(delay_ms / 1000)


def endpoints(settings: GenesysSettings) -> tuple[str, str, str]:
    """(login base URL, API base URL, client id), every reference checked: a missing or empty
    one raises :class:`GenesysConfigError` naming it, so a process fails at start, not at its
    first query."""
    region = None if settings.login_url and settings.api_url else _reveal("region", settings.region)
    _reveal("client_secret", settings.client_secret)
    login = (settings.login_url or f"https://login.{region}").rstrip("/")
    api = (settings.api_url or f"https://api.{region}").rstrip("/")
    return login, api, _reveal("client_id", settings.client_id)


def _reveal(name: str, ref: SecretRef | None) -> str:
    if ref is None:
        raise GenesysConfigError(f"genesys.{name}: a secret reference is required")
    try:
        return ref.resolve().reveal()
    except SecretUnavailableError as exc:
        raise GenesysConfigError(f"genesys.{name}: {exc}") from None


def _message(raw: bytes) -> str:
    """Genesys' error message (its error body carries ``message``), else the start of the body."""
    try:
        doc = orjson.loads(raw)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])[:300]
    except orjson.JSONDecodeError:
        pass
    return raw[:300].decode("utf-8", "replace")
