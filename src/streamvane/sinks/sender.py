"""Render, deliver and record one feed record: the step the dispatcher, ``replay deliver`` and
``dlq redrive`` share, so all three send the same bytes with the same key and leave the same trail.

Recording is asynchronous through a confluent-kafka producer (idempotent, acks=all): ``done`` is
called only once every message about the outcome (ledger entry and, for a failure, the dead
letter) is acknowledged by the broker — the point after which the dispatcher may commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from confluent_kafka import KafkaError, Producer

from streamvane.feeds.payload_schema import PayloadValidator
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import PayloadRenderer
from streamvane.feeds.request import build_request, delivery_key
from streamvane.kpi.config import KpiConfig
from streamvane.records.avro import FINGERPRINT_HEADER
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.delivery import Attempt, Deliverer, Endpoint, Outcome, now_ms
from streamvane.sinks.ledger import Subject, attempt_entry, dead_letter_headers, outcome_entry
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.redaction import Redactor
from streamvane.sinks.tls import ssl_context

log = logging.getLogger("streamvane.dispatcher")
Done = Callable[[bool], None]


@dataclass(frozen=True, slots=True)
class Original:
    """A record as it was on the feed topic: Avro bytes and the writer schema's fingerprint.
    Dead letters keep exactly these, so a redrive decodes and sends what would have been sent."""

    raw: bytes
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Topics:
    ledger: str
    dead_letter: str


class RecordSender:
    def __init__(
        self,
        profiles: Sequence[FeedProfile],
        kpi: KpiConfig,
        producer: Producer,
        topics: Topics,
        session: aiohttp.ClientSession,
        metrics: DispatcherMetrics,
        source: str = "dispatch",
    ) -> None:
        self.profiles = {p.id: p for p in profiles}
        self.kpi = kpi
        self.producer = producer
        self.topics = topics
        self.metrics = metrics
        self.source = source
        self.redact = Redactor()
        self.deliverer = Deliverer(session, self.redact)
        self._validators: dict[str, PayloadValidator] = {}
        self._renderers: dict[str, PayloadRenderer] = {}
        self._endpoints: dict[str, Endpoint] = {}

    def endpoint(self, profile: FeedProfile) -> Endpoint:
        assert profile.endpoint is not None
        spec = profile.endpoint
        key = f"{spec.origin}|{profile.id}"
        found = self._endpoints.get(key)
        if found is None:
            ssl = ssl_context(spec.tls, spec.origin.startswith("https"))
            shared = next((e for k, e in self._endpoints.items() if k.startswith(spec.origin + "|")), None)
            limit = shared.limit if shared else asyncio.Semaphore(spec.max_in_flight)
            found = self._endpoints[key] = Endpoint(AuthProvider(spec.auth, self.redact, ssl), ssl, limit)
        return found

    async def send(
        self, record: FeedRecord, original: Original, close_ms: int, deadline_ms: int | None, done: Done
    ) -> str:
        """Deliver and record; returns the result (delivered, rejected, deadline-exceeded, …)."""
        profile = self.profiles.get(record.profile_id)
        if profile is None:
            self._fail(
                record, original, None, close_ms, Outcome("unknown-profile", finished_ms=now_ms()), done
            )
            return "unknown-profile"
        if profile.endpoint is None:
            subject = Subject.of(record, "-", "-", b"", 0, close_ms, self.source)
            self.record_outcome(subject, Outcome("no-endpoint", finished_ms=now_ms()), None, original, done)
            return "no-endpoint"
        validator = self._validators.get(profile.id)
        renderer = self._renderers.get(profile.id)
        if validator is None or renderer is None:
            validator = self._validators[profile.id] = PayloadValidator(profile)
            renderer = self._renderers[profile.id] = PayloadRenderer(profile, self.kpi)
        payload = renderer.render(record)
        problems = validator.problems(payload.body)
        request = build_request(profile, profile.endpoint, record, payload)
        subject = Subject.of(
            record,
            request.method,
            request.url,
            payload.body,
            payload.rows,
            close_ms,
            self.source,
            delivery_key(profile, record),
        )
        if problems:
            outcome = Outcome("invalid-payload", finished_ms=now_ms())
            self.record_outcome(subject, outcome, "; ".join(problems[:3]), original, done)
            return outcome.result
        if deadline_ms is None:
            deadline_ms = close_ms + profile.delivery_deadline_ms + profile.retry.deadline_margin_ms

        def on_attempt(attempt: Attempt) -> None:
            self.metrics.attempts.labels(profile.id, str(attempt.status or attempt.error or "error")).inc()
            self._produce(self.topics.ledger, subject.key, attempt_entry(subject, attempt), None, None)

        outcome = await self.deliverer.deliver(
            profile, self.endpoint(profile), request, deadline_ms, on_attempt=on_attempt
        )
        if outcome.delivered:
            self.metrics.latency.labels(profile.id).observe(max(0, outcome.finished_ms - close_ms) / 1000)
        self.record_outcome(subject, outcome, None, original, done)
        return outcome.result

    def _fail(
        self,
        record: FeedRecord,
        original: Original,
        detail: str | None,
        close_ms: int,
        outcome: Outcome,
        done: Done,
    ) -> None:
        self.record_outcome(
            Subject.of(record, "-", "-", b"", 0, close_ms, self.source), outcome, detail, original, done
        )

    def record_outcome(
        self, subject: Subject, outcome: Outcome, detail: str | None, original: Original, done: Done
    ) -> None:
        self.metrics.outcomes.labels(subject.profile_id, outcome.result).inc()
        failed = outcome.result not in ("delivered", "no-endpoint")
        waiting = [2 if failed else 1]
        ok = [True]

        def acked(success: bool) -> None:
            ok[0] = ok[0] and success
            waiting[0] -= 1
            if waiting[0] == 0:
                done(ok[0])

        self._produce(self.topics.ledger, subject.key, outcome_entry(subject, outcome), None, acked)
        if failed:
            self.metrics.dead_letters.labels(subject.profile_id, outcome.result).inc()
            headers = dead_letter_headers(subject, outcome, outcome.result, self.redact(detail or ""))
            log.warning(
                "dead letter: %s interval %s revision %d: %s after %d attempts",
                subject.profile_id,
                subject.interval_start_ms,
                subject.revision,
                outcome.result,
                len(outcome.attempts),
            )
            headers.append((FINGERPRINT_HEADER, original.fingerprint.encode()))
            self._produce(self.topics.dead_letter, subject.key, original.raw, headers, acked)

    def _produce(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]] | None,
        acked: Callable[[bool], None] | None,
    ) -> None:
        def delivered(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                log.error("could not record to %s: %s", topic, err)
            if acked is not None:
                acked(err is None)

        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": delivered}
        if headers:
            kwargs["headers"] = headers
        while True:
            try:
                self.producer.produce(topic, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.05)


def fingerprint_of(headers: list[tuple[str, bytes | None]] | None) -> str:
    for name, value in headers or []:
        if name == FINGERPRINT_HEADER and value is not None:
            return value.decode()
    return ""


def recording_producer(bootstrap: str) -> Producer:
    return Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5, "acks": "all"}
    )
