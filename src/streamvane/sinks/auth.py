"""Credentials for one endpoint, resolved from their references at the moment of use.

:meth:`AuthProvider.header` gives the ``Authorization`` value (or None). OAuth2 client
credentials: the token is fetched with HTTP basic client authentication (RFC 6749 §2.3.1), cached
until ``expires_in`` minus the refresh margin, shared by concurrent requests (one fetch at a
time), and dropped by :meth:`AuthProvider.invalidate` when the endpoint answers 401. Every secret
and token is registered with the :class:`Redactor` before it is used.
"""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp
import orjson

from streamvane.errors import TransientError
from streamvane.feeds.endpoint import Auth, BasicAuth, BearerAuth, NoAuth, OAuth2ClientCredentials
from streamvane.sinks.redaction import Redactor


class AuthError(TransientError):
    """Credentials could not be obtained (missing secret, token endpoint failure); retryable."""


class AuthProvider:
    def __init__(self, auth: Auth, redactor: Redactor, ssl: object = None) -> None:
        self.auth = auth
        self._redact = redactor
        self._ssl = ssl
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def refreshable(self) -> bool:
        return isinstance(self.auth, OAuth2ClientCredentials)

    async def header(self, session: aiohttp.ClientSession) -> str | None:
        auth = self.auth
        if isinstance(auth, NoAuth):
            return None
        if isinstance(auth, BasicAuth):
            return self._basic(auth.username, self._secret(auth.password.resolve().reveal()))
        if isinstance(auth, BearerAuth):
            return f"Bearer {self._secret(auth.token.resolve().reveal())}"
        return f"Bearer {await self._oauth_token(session, auth)}"

    def _basic(self, user: str, password: str) -> str:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._redact.add(pair)
        return f"Basic {pair}"

    def invalidate(self) -> None:
        self._token = None

    def _secret(self, value: str) -> str:
        self._redact.add(value)
        return value

    async def _oauth_token(self, session: aiohttp.ClientSession, auth: OAuth2ClientCredentials) -> str:
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            secret = self._secret(auth.client_secret.resolve().reveal())
            form = {"grant_type": "client_credentials"}
            if auth.scope:
                form["scope"] = auth.scope
            try:
                async with session.post(
                    auth.token_url,
                    data=form,
                    headers={"Authorization": self._basic(auth.client_id, secret)},
                    timeout=aiohttp.ClientTimeout(total=10),
                    ssl=self._ssl,  # type: ignore[arg-type]
                ) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise AuthError(f"token endpoint answered {resp.status}")
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise AuthError(f"token endpoint unreachable: {type(exc).__name__}") from None
            try:
                doc = orjson.loads(body)
                token = str(doc["access_token"])
                lifetime = float(doc.get("expires_in", 3600))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise AuthError("token endpoint answered without a usable access_token") from None
            self._secret(token)
            self._token = token
            self._expires_at = time.monotonic() + max(0.0, lifetime - auth.refresh_margin_s)
            return token
