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

import aiohttp

from streamvane.feeds.payload_schema import PayloadValidator
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import PayloadRenderer, UnrenderableRecord
from streamvane.feeds.request import build_request, delivery_key
from streamvane.feeds.sla import OnTimeWindow
from streamvane.records.avro import FINGERPRINT_HEADER
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.delivery import Attempt, Deliverer, Endpoint, Outcome, now_ms
from streamvane.sinks.ledger import Subject, attempt_entry, dead_letter_headers, outcome_entry
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.redaction import Redactor
from streamvane.sinks.tls import ssl_context
from streamvane.topology.output import OutputProducer

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
        producer: OutputProducer,
        topics: Topics,
        session: aiohttp.ClientSession,
        metrics: DispatcherMetrics,
        source: str = "dispatch",
        on_time_window_ms: int = 86_400_000,
    ) -> None:
        self.profiles = {p.id: p for p in profiles}
        self.producer = producer
        self.topics = topics
        self.metrics = metrics
        self.source = source
        self.redact = Redactor()
        self.on_time = OnTimeWindow(on_time_window_ms)
        self.deliverer = Deliverer(session, self.redact)
        self._contracts: dict[str, tuple[PayloadRenderer, PayloadValidator]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}

    def endpoint(self, profile: FeedProfile) -> Endpoint:
        """Per profile: its auth and TLS; per origin: one concurrency limit, sized by the first
        profile that delivers there."""
        found = self._endpoints.get(profile.id)
        if found is None:
            spec = profile.endpoint
            assert spec is not None
            ssl = ssl_context(spec.tls, spec.origin.startswith("https"))
            limit = self._limits.setdefault(spec.origin, asyncio.Semaphore(spec.max_in_flight))
            found = self._endpoints[profile.id] = Endpoint(
                AuthProvider(spec.auth, self.redact, ssl), ssl, limit
            )
        return found

    def contract(self, profile: FeedProfile) -> tuple[PayloadRenderer, PayloadValidator]:
        found = self._contracts.get(profile.id)
        if found is None:
            found = self._contracts[profile.id] = (
                PayloadRenderer(profile),
                PayloadValidator(profile),
            )
        return found

    async def send(
        self, record: FeedRecord, original: Original, close_ms: int, deadline_ms: int | None, done: Done
    ) -> str:
        """Deliver and record; returns the result (delivered, rejected, deadline-exceeded, …)."""
        profile = self.profiles.get(record.profile_id)
        if profile is None or profile.endpoint is None:
            outcome = Outcome("unknown-profile" if profile is None else "no-endpoint", finished_ms=now_ms())
            self.record_outcome(Subject.unsent(close_ms, self.source, record), outcome, None, original, done)
            return outcome.result
        renderer, validator = self.contract(profile)
        try:
            payload = renderer.render(record)
        except UnrenderableRecord as exc:
            outcome = Outcome("unrenderable", finished_ms=now_ms())
            self.record_outcome(
                Subject.unsent(close_ms, self.source, record), outcome, str(exc), original, done
            )
            return outcome.result
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
            self.producer.produce(
                self.topics.ledger, attempt_entry(subject, attempt), subject.key, on_delivery=_logged_only
            )

        outcome = await self.deliverer.deliver(
            profile, self.endpoint(profile), request, deadline_ms, on_attempt=on_attempt
        )
        if outcome.delivered:
            self.metrics.latency.labels(profile.id).observe(max(0, outcome.finished_ms - close_ms) / 1000)
        self.record_outcome(subject, outcome, None, original, done)
        return outcome.result

    def record_outcome(
        self, subject: Subject, outcome: Outcome, detail: str | None, original: Original, done: Done
    ) -> None:
        self.metrics.outcomes.labels(subject.profile_id, outcome.result).inc()
        profile = self.profiles.get(subject.profile_id)
        if self.source == "dispatch" and profile is not None and profile.endpoint is not None:
            self.on_time.observe(profile, subject.interval_end_ms, outcome.delivered, outcome.finished_ms)
            ratio = self.on_time.ratio(profile.id, outcome.finished_ms)
            if ratio is not None:
                self.metrics.on_time_ratio.labels(profile.id).set(ratio)
        failed = outcome.result not in ("delivered", "no-endpoint")
        waiting, stored = (2 if failed else 1), True

        def acked(success: bool) -> None:
            nonlocal waiting, stored
            stored, waiting = stored and success, waiting - 1
            if waiting == 0:
                done(stored)

        self.producer.produce(
            self.topics.ledger, outcome_entry(subject, outcome), subject.key, on_delivery=acked
        )
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
            self.producer.produce(
                self.topics.dead_letter, original.raw, subject.key, headers, on_delivery=acked
            )


def _logged_only(_stored: bool) -> None:
    """Attempt entries gate no commit; a failure to store one is logged by the producer."""


def fingerprint_of(headers: list[tuple[str, bytes | None]] | None) -> str:
    for name, value in headers or []:
        if name == FINGERPRINT_HEADER and value is not None:
            return value.decode()
    return ""
