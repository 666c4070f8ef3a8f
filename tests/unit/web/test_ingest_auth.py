"""Ingest credentials: tokens any replica accepts until they expire, and nothing else."""

from __future__ import annotations

import base64

from streamvane.web.ingest_auth import IngestAuth, IngestCredentials

CREDENTIALS = IngestCredentials(clients={"eventbridge": "cs-1"}, signing_key=b"s" * 32, token_ttl_s=600)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_token_is_accepted_by_another_replica_until_it_expires() -> None:
    now = [1_000_000.0]
    issuer = IngestAuth(CREDENTIALS, clock=lambda: now[0])
    other_replica = IngestAuth(CREDENTIALS, clock=lambda: now[0])
    token = issuer.issue({"grant_type": "client_credentials"}, basic("eventbridge", "cs-1"))
    assert token is not None and token.expires_in == 600
    bearer = {"Authorization": f"Bearer {token.access_token}"}
    assert other_replica.caller(bearer) == "client:eventbridge"
    now[0] += 601
    assert other_replica.caller(bearer) is None


def test_a_token_signed_with_another_key_or_for_a_removed_client_is_refused() -> None:
    token = IngestAuth(CREDENTIALS).issue(
        {"grant_type": "client_credentials", "client_id": "eventbridge", "client_secret": "cs-1"}, None
    )
    assert token is not None
    rotated = IngestCredentials(clients={"eventbridge": "cs-1"}, signing_key=b"t" * 32)
    removed = IngestCredentials(clients={"other": "x"}, signing_key=b"s" * 32)
    for credentials in (rotated, removed):
        assert IngestAuth(credentials).caller({"Authorization": f"Bearer {token.access_token}"}) is None


def test_tokens_need_the_client_credentials_grant_and_the_right_secret() -> None:
    auth = IngestAuth(CREDENTIALS)
    assert auth.issue({"grant_type": "password"}, basic("eventbridge", "cs-1")) is None
    assert auth.issue({"grant_type": "client_credentials"}, basic("eventbridge", "cs-2")) is None
    assert auth.issue({"grant_type": "client_credentials"}, "Basic !!not-base64") is None


def test_api_keys_and_basic_compare_whole_values() -> None:
    auth = IngestAuth(IngestCredentials(api_keys=("k-1", "k-2"), basic=("eb", "pw")))
    assert auth.caller({"x-api-key": "k-2"}) == "api-key"
    assert auth.caller({"x-api-key": "k-"}) is None
    assert auth.caller({"Authorization": basic("eb", "pw")}) == "basic:eb"
    assert auth.caller({"Authorization": basic("eb", "pw2")}) is None
    assert "k-1" not in repr(auth.credentials) and "pw" not in repr(auth.credentials)
