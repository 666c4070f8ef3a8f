"""Kafka security settings, mapped once onto librdkafka (confluent-kafka) and aiokafka (Faust)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError

from streamvane.broker.connection import KafkaConnection, connect
from streamvane.clients.kafka_oauth import KafkaTokenProvider
from streamvane.errors import ConfigError
from streamvane.settings import KafkaSettings
from streamvane.topology.credentials import faust_credentials
from tests.support.certificates import self_signed
from tests.support.http_servers import TokenServer

PASSWORD = "scram-password-0b9e"


def kafka(security: dict[str, Any], bootstrap: str = "b1:9093,b2:9093") -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, security=security)


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    """A real CA certificate file: the stdlib's default context must load it."""
    return self_signed(tmp_path, "test-ca")[1]


def test_plaintext_is_the_brokers_and_nothing_else() -> None:
    conn = connect(KafkaSettings(bootstrap_servers="127.0.0.1:19092"))
    assert conn.config() == {"bootstrap.servers": "127.0.0.1:19092"}
    assert conn.ssl_context() is None
    assert faust_credentials(conn) is None


def test_sasl_ssl_scram_maps_onto_librdkafka_and_faust_alike(
    ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SV_USER", "streamvane")
    monkeypatch.setenv("SV_PASSWORD", PASSWORD)
    conn = connect(
        kafka(
            {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": {"env": "SV_USER"},
                "sasl_password": {"env": "SV_PASSWORD"},
                "ca_file": str(ca),
            }
        )
    )
    assert conn.config(**{"group.id": "g"}) == {
        "bootstrap.servers": "b1:9093,b2:9093",
        "security.protocol": "sasl_ssl",
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.ca.location": str(ca),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "streamvane",
        "sasl.password": PASSWORD,
        "group.id": "g",
    }
    context = conn.ssl_context()
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    credentials = faust_credentials(conn)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("streamvane", PASSWORD)
    assert (
        PASSWORD not in repr(conn) and repr(conn) == "KafkaConnection(SASL_SSL/SCRAM-SHA-512 b1:9093,b2:9093)"
    )


def test_tls_only_gives_faust_ssl_credentials_and_can_skip_the_hostname_check(ca: Path) -> None:
    conn = connect(kafka({"protocol": "SSL", "ca_file": str(ca), "check_hostname": False}))
    assert conn.config()["ssl.endpoint.identification.algorithm"] == "none"
    credentials = faust_credentials(conn)
    assert isinstance(credentials, SSLCredentials) and not credentials.context.check_hostname


def test_oauthbearer_uses_oidc_client_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_CLIENT_SECRET", "oidc-secret-77")
    conn = connect(
        kafka(
            {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "OAUTHBEARER",
                "oauth": {
                    "type": "oauth2",
                    "token_url": "https://idp.example/oauth2/token",
                    "client_id": "streamvane",
                    "client_secret": {"env": "SV_CLIENT_SECRET"},
                    "scope": "kafka",
                },
            }
        )
    )
    config = conn.config()
    assert {k: v for k, v in config.items() if k.startswith("sasl.")} == {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.client.id": "streamvane",
        "sasl.oauthbearer.client.secret": "oidc-secret-77",
        "sasl.oauthbearer.token.endpoint.url": "https://idp.example/oauth2/token",
        "sasl.oauthbearer.scope": "kafka",
    }
    with pytest.raises(ConfigError, match="token provider"):
        faust_credentials(conn)
    assert isinstance(faust_credentials(conn, KafkaTokenProvider(conn)), OAuthCredentials)


def test_the_faust_token_provider_fetches_once_and_reuses_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_CLIENT_SECRET", "oidc-secret-77")
    server = TokenServer("oidc-secret-77", client_id="streamvane")
    try:
        settings = kafka(
            {
                "protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "OAUTHBEARER",
                "oauth": {
                    "type": "oauth2",
                    "token_url": server.url + "/token",
                    "client_id": "streamvane",
                    "client_secret": {"env": "SV_CLIENT_SECRET"},
                },
            }
        )
        provider = KafkaTokenProvider(connect(settings))

        async def twice() -> list[str]:
            try:
                return [await provider.token(), await provider.token()]
            finally:
                await provider.close()

        assert asyncio.run(twice()) == [server.token, server.token]
        assert server.requests == 1
    finally:
        server.close()


@pytest.mark.parametrize(
    ("security", "message"),
    [
        ({"protocol": "SASL_SSL"}, "needs a sasl_mechanism"),
        ({"protocol": "PLAINTEXT", "sasl_mechanism": "PLAIN"}, "needs protocol SASL_SSL"),
        (
            {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"},
            "needs sasl_username and sasl_password",
        ),
        ({"protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"}, "needs 'oauth'"),
        ({"protocol": "PLAINTEXT", "ca_file": "/ca.pem"}, "ca_file need protocol SSL"),
        ({"protocol": "SSL", "cert_file": "/c.pem"}, "cert_file and key_file go together"),
        (
            {
                "protocol": "SASL_SSL",
                "sasl_mechanism": "PLAIN",
                "sasl_username": "u",
                "sasl_password": PASSWORD,
            },
            "inline secrets are refused",
        ),
    ],
)
def test_inconsistent_security_settings_are_refused_with_the_reason(
    security: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        kafka(security)
    assert all(PASSWORD not in e["msg"] for e in caught.value.errors()), "the CLI prints each msg"


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "client.pem"
    settings = kafka({"protocol": "SSL", "cert_file": str(missing), "key_file": str(missing)})
    with pytest.raises(ConfigError, match=f"kafka.security.cert_file: {missing} does not exist"):
        connect(settings)


def test_a_plaintext_connection_for_tools_and_tests() -> None:
    assert KafkaConnection.plaintext("h:1").config(**{"acks": "all"}) == {
        "bootstrap.servers": "h:1",
        "acks": "all",
    }
