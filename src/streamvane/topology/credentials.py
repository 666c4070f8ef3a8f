"""Faust's side of :class:`~streamvane.broker.connection.KafkaConnection`: the one
``broker_credentials`` setting its aiokafka consumer, producer and topic creation all use.

OAUTHBEARER needs a token provider (aiokafka calls it for every new connection); the caller
builds one (:class:`streamvane.clients.kafka_oauth.KafkaTokenProvider`), since fetching tokens
is HTTP and lives above this layer.
"""

from __future__ import annotations

from aiokafka.abc import AbstractTokenProvider
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from streamvane.broker.connection import KafkaConnection
from streamvane.errors import ConfigError


def faust_credentials(
    kafka: KafkaConnection, token_provider: AbstractTokenProvider | None = None
) -> CredentialsT | None:
    """None for PLAINTEXT; otherwise the credentials matching ``kafka.security``."""
    security = kafka.security
    context = kafka.ssl_context()
    if security.sasl_mechanism == "OAUTHBEARER":
        if token_provider is None:
            raise ConfigError("kafka.security: OAUTHBEARER needs a token provider")
        return OAuthCredentials(oauth_cb=token_provider, ssl_context=context)
    if security.sasl_mechanism is not None:
        return SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            ssl_context=context,
            mechanism=security.sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None
