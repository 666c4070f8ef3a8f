"""One record's delivery (the retry loop) against real HTTP servers on 127.0.0.1, without Kafka:
OAuth2 refresh on 401, Retry-After as an HTTP date, the deadline, TLS verification."""

from __future__ import annotations

import asyncio
import random
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import render
from streamvane.feeds.request import build_request
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.delivery import Deliverer, Endpoint, http_session, now_ms
from streamvane.sinks.outcome import Outcome
from streamvane.sinks.redaction import Redactor
from streamvane.sinks.tls import ssl_context
from tests.support.certificates import Pki, pki, self_signed
from tests.support.dispatcher import profile, records
from tests.support.http_servers import ScriptedEndpoint, TokenServer

SECRET = "client-secret-for-refresh-test"


def deliver(spec: FeedProfile, deadline_ms: int) -> Outcome:
    record = records(spec.id, 1)[0]
    assert spec.endpoint is not None
    request = build_request(spec, spec.endpoint, record, render(spec, record))

    async def go() -> Outcome:
        async with http_session() as session:
            redactor = Redactor()
            assert spec.endpoint is not None
            tls = ssl_context(spec.endpoint.tls, spec.endpoint.url.startswith("https"))
            endpoint = Endpoint(AuthProvider(spec.endpoint.auth, redactor, tls), tls, asyncio.Semaphore(2))
            return await Deliverer(session, redactor, rng=random.Random(3)).deliver(
                spec, endpoint, request, deadline_ms
            )

    return asyncio.run(go())


def test_a_401_drops_the_cached_oauth_token_and_retries_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_REFRESH_SECRET", SECRET)
    tokens = TokenServer(SECRET)
    server = ScriptedEndpoint(lambda i: ("status", (401 if i == 1 else 200, {}))).start()
    try:
        auth = {
            "type": "oauth2",
            "token_url": tokens.url + "/token",
            "client_id": "sv",
            "client_secret": {"env": "SV_REFRESH_SECRET"},
        }
        spec = FeedProfile.model_validate(profile("refresh", server.url, endpoint={"auth": auth}))
        outcome = deliver(spec, now_ms() + 10_000)
        assert outcome.result == "delivered"
        assert [a.status for a in outcome.attempts] == [401, 200]
        assert tokens.requests == 2, "the token was fetched again after the 401"
    finally:
        server.close()
        tokens.close()


def test_retry_after_as_an_http_date_is_honoured() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    server = ScriptedEndpoint(
        lambda i: ("status", (503, {"Retry-After": later}) if i == 1 else (200, {}))
    ).start()
    try:
        outcome = deliver(FeedProfile.model_validate(profile("dated", server.url)), now_ms() + 30_000)
        assert outcome.result == "delivered"
        gap = outcome.attempts[1].started_ms - outcome.attempts[0].started_ms
        assert 1_000 <= gap <= 3_500
    finally:
        server.close()


def test_no_attempt_starts_after_the_deadline() -> None:
    server = ScriptedEndpoint(lambda i: ("status", (503, {"Retry-After": "1"}))).start()
    try:
        started = now_ms()
        outcome = deliver(FeedProfile.model_validate(profile("late", server.url)), started + 2_500)
        assert outcome.result == "deadline-exceeded"
        assert len(outcome.attempts) == 3  # at 0 s, 1 s, 2 s; the next would start after 2.5 s
        assert all(a.started_ms <= started + 2_500 for a in outcome.attempts)
        assert outcome.attempts[-1].status == 503
    finally:
        server.close()


def test_tls_verification_is_on_by_default(tmp_path: Path) -> None:
    """An https endpoint with a certificate nobody vouches for is refused, not trusted."""
    key, cert = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    server = ScriptedEndpoint(ssl_context=context).start()
    try:
        url = server.url.replace("http://", "https://")
        refused = deliver(
            FeedProfile.model_validate(profile("tls", url, retry={"retry_statuses": []})), now_ms() + 500
        )
        assert refused.result == "deadline-exceeded"
        error = refused.attempts[0].error
        assert error is not None and error.startswith("tls: the endpoint's certificate is not trusted"), error
        trusted = FeedProfile.model_validate(profile("tls-ca", url, endpoint={"tls": {"ca_file": str(cert)}}))
        assert deliver(trusted, now_ms() + 5_000).result == "delivered"
    finally:
        server.close()


def https_server(
    tmp_path: Path, require_client_cert: bool = False, max_version: str | None = None
) -> tuple[ScriptedEndpoint, Pki]:
    certs = pki(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    if require_client_cert:
        context.load_verify_locations(str(certs.ca))
        context.verify_mode = ssl.CERT_REQUIRED
    if max_version is not None:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = getattr(ssl.TLSVersion, max_version)
    return ScriptedEndpoint(ssl_context=context).start(), certs


def test_mutual_tls_round_trip_succeeds_with_the_client_certificate_and_fails_without(tmp_path: Path) -> None:
    server, certs = https_server(tmp_path, require_client_cert=True)
    try:
        url = server.url.replace("http://", "https://")
        tls = {
            "ca_file": str(certs.ca),
            "client_cert": str(certs.client_cert),
            "client_key": str(certs.client_key),
        }
        with_cert = FeedProfile.model_validate(profile("mtls", url, endpoint={"tls": tls}))
        assert deliver(with_cert, now_ms() + 5_000).result == "delivered"
        assert len(server.received) == 1
        without = FeedProfile.model_validate(
            profile(
                "mtls-none", url, endpoint={"tls": {"ca_file": str(certs.ca)}}, retry={"retry_statuses": []}
            )
        )
        refused = deliver(without, now_ms() + 1_000)
        assert refused.result == "deadline-exceeded"
        error = refused.attempts[0].error
        assert error is not None and error.startswith(("tls:", "connection:")), error
        assert len(server.received) == 1, "no request got through without the certificate"
    finally:
        server.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("server_max", "profile_min"), [("TLSv1_1", "1.2"), ("TLSv1_2", "1.3")])
def test_an_endpoint_below_the_profiles_tls_minimum_is_refused_with_the_reason(
    tmp_path: Path, server_max: str, profile_min: str
) -> None:
    server, certs = https_server(tmp_path, max_version=server_max)
    try:
        url = server.url.replace("http://", "https://")
        tls = {"ca_file": str(certs.ca), "min_version": profile_min}
        spec = FeedProfile.model_validate(
            profile("old-tls", url, endpoint={"tls": tls}, retry={"retry_statuses": []})
        )
        refused = deliver(spec, now_ms() + 1_000)
        error = refused.attempts[0].error
        assert refused.result == "deadline-exceeded" and error is not None
        assert error.startswith("tls: handshake refused"), error
        assert server.received == []
    finally:
        server.close()


def test_tls_1_3_is_negotiated_when_the_profile_demands_it(tmp_path: Path) -> None:
    server, certs = https_server(tmp_path)
    try:
        url = server.url.replace("http://", "https://")
        spec = FeedProfile.model_validate(
            profile("tls13", url, endpoint={"tls": {"ca_file": str(certs.ca), "min_version": "1.3"}})
        )
        assert deliver(spec, now_ms() + 5_000).result == "delivered"
    finally:
        server.close()
