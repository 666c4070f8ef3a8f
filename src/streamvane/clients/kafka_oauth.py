"""OAUTHBEARER tokens for Faust's aiokafka clients: the OIDC client-credentials grant.

aiokafka asks :meth:`KafkaTokenProvider.token` on every new broker connection; the token is
fetched, cached and refreshed before expiry by the same :class:`~streamvane.sinks.auth.AuthProvider`
the dispatcher uses for endpoints, and registered with a redactor, so it never reaches a log.
(confluent-kafka clients fetch theirs themselves: ``sasl.oauthbearer.method=oidc``.)
"""

from __future__ import annotations

import aiohttp
from aiokafka.abc import AbstractTokenProvider

from streamvane.broker.connection import KafkaConnection
from streamvane.errors import ConfigError
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.redaction import Redactor


class KafkaTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    def __init__(self, kafka: KafkaConnection) -> None:
        oauth = kafka.security.oauth
        if oauth is None:
            raise ConfigError("kafka.security.oauth is required for OAUTHBEARER")
        self._auth = AuthProvider(oauth, Redactor())
        self._session: aiohttp.ClientSession | None = None

    async def token(self) -> str:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        header = await self._auth.header(self._session)
        return (header or "").removeprefix("Bearer ")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
