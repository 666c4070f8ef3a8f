"""``streamvane ingest``: the EventBridge API-destination endpoint (:mod:`streamvane.web.ingest_app`)
in front of the event topic. Stateless: run as many replicas as the load needs, behind one
Service; each refuses to start without a credential configured, or when Kafka refuses it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
import sys

from streamvane.errors import ConfigError
from streamvane.settings import IngestSettings, Settings
from streamvane.web.ingest_auth import IngestCredentials

log = logging.getLogger("streamvane.ingest")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest",
        help="serve the HTTP endpoint EventBridge API destinations post Genesys events to",
        description="Accept Genesys events over HTTP (one EventBridge event, a JSON array, or NDJSON), "
        "validate them with the worker's parser, and produce them to the event topic; 2xx only once "
        "the broker has stored them. Settings: ingest.* (see `streamvane --help`).",
    )
    p.add_argument("--port", type=int, help="overrides ingest.port")
    p.set_defaults(handler=run)


def credentials(s: IngestSettings) -> IngestCredentials:
    """The resolved credentials of ``s``; a configuration without any is refused."""
    if s.clients and s.token_signing_key is None:
        raise ConfigError("ingest.clients need ingest.token_signing_key (the HMAC key of their tokens)")
    if (s.basic_username is None) != (s.basic_password is None):
        raise ConfigError("ingest.basic_username and ingest.basic_password go together")
    resolved = IngestCredentials(
        api_key_header=s.api_key_header,
        api_keys=tuple(ref.resolve().reveal() for ref in s.api_keys),
        basic=(s.basic_username, s.basic_password.resolve().reveal())
        if s.basic_username is not None and s.basic_password is not None
        else None,
        clients={c.client_id: c.client_secret.resolve().reveal() for c in s.clients},
        signing_key=s.token_signing_key.resolve().reveal().encode() if s.token_signing_key else b"",
        token_ttl_s=s.token_ttl_s,
    )
    if resolved.open:
        raise ConfigError(
            "ingest: no credential configured (ingest.api_keys, ingest.basic_*, or ingest.clients): "
            "an open endpoint would let anyone write events"
        )
    return resolved


def server_tls(s: IngestSettings) -> ssl.SSLContext | None:
    if s.tls_cert_file is None and s.tls_client_ca_file is None:
        return None
    if s.tls_cert_file is None or s.tls_key_file is None:
        raise ConfigError("ingest.tls_cert_file and ingest.tls_key_file are needed for HTTPS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(s.tls_cert_file), str(s.tls_key_file))
        if s.tls_client_ca_file is not None:
            context.load_verify_locations(str(s.tls_client_ca_file))
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ingest TLS files cannot be loaded: {exc}") from None
    return context


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from streamvane.broker.acked_producer import AckedProducer
    from streamvane.broker.preflight import open_kafka
    from streamvane.broker.topics import ensure_topics, ingest_topic_specs
    from streamvane.web.ingest_app import IngestConfig, IngestMetrics, create_ingest_app
    from streamvane.web.ingest_auth import IngestAuth

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = settings.ingest
    auth = IngestAuth(credentials(s))
    tls = server_tls(s)
    kafka = open_kafka(settings.kafka)
    ensure_topics(settings, kafka, ingest_topic_specs(settings))
    producer = AckedProducer(kafka, s.produce_timeout_s, s.max_queued_events)
    config = IngestConfig(
        events_topic=settings.topics.events,
        quarantine_topic=settings.topics.quarantine,
        path=s.path,
        max_body_bytes=s.max_body_bytes,
        max_events=s.max_events,
        request_timeout_s=s.request_timeout_s,
        max_in_flight=s.max_in_flight,
        retry_after_s=s.retry_after_s,
    )
    broker: list[str | None] = [None]
    app = create_ingest_app(
        config, auth, producer, settings.kpi.event_parser(), IngestMetrics(), ready=lambda: broker[0]
    )
    port = args.port or s.port

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, s.host, port, ssl_context=tls).start()
        scheme = "https" if tls else "http"
        sys.stderr.write(
            f"ingest: {scheme}://{s.host}:{port}{s.path} -> {settings.topics.events} on {kafka.describe()}\n"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():  # readiness follows the broker
            broker[0] = await asyncio.to_thread(producer.reachable)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5.0)
        await runner.cleanup()  # stops accepting, lets requests in flight finish

    try:
        asyncio.run(serve())
    finally:
        left = producer.close()
        if left:
            log.error("ingest: %d messages not acknowledged at shutdown", left)
    return 0
