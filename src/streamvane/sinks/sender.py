"""Render, deliver and record one feed record: the step the dispatcher, ``replay deliver`` and
``dlq redrive`` share, so all three send the same bytes with the same key and leave the same trail.

Recording is asynchronous through a confluent-kafka producer (idempotent, acks=all): ``done`` is
called only once every message about the outcome (ledger entry and, for a failure, the dead
letter) is acknowledged by the broker — the point after which the dispatcher may commit. Each
attempt is announced in the ledger (``attempt-started``) before its request leaves, so a crash
mid-request still leaves a trace.

Isolation: every profile has its own concurrency limit (``endpoint.max_in_flight``); profiles
that share an origin share a limit only when the settings cap that origin
(``dispatcher.origin_limits``). A configuration fault — a TLS file that is missing, a secret
that is not set — is not retried: the record is dead-lettered as ``config-error`` with the
reason, and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import aiohttp

from streamvane.broker.producer import OutputProducer, logged_only
from streamvane.errors import ConfigError
from streamvane.feeds.delivery_result import Result
from streamvane.feeds.payload_schema import PayloadValidator
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.render import Payload, PayloadRenderer, UnrenderableRecord
from streamvane.feeds.request import DeliveryRequest, build_request, delivery_key
from streamvane.feeds.sla import OnTimeWindow
from streamvane.records.avro import FINGERPRINT_HEADER
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.delivery import Deliverer, Endpoint, now_ms
from streamvane.sinks.ledger import (
    Subject,
    attempt_entry,
    attempt_started_entry,
    dead_letter_headers,
    outcome_entry,
)
from streamvane.sinks.metrics import DispatcherMetrics
from streamvane.sinks.outcome import Attempt, Outcome
from streamvane.sinks.redaction import Redactor
from streamvane.sinks.tls import ssl_context

log = logging.getLogger("streamvane.dispatcher")
Done = Callable[[bool], None]
OnStart = Callable[[int, int], Awaitable[None]]
ANNOUNCE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Original:
    """A record as it was on the feed topic: Avro bytes and the writer schema's fingerprint.
    Dead letters keep exactly these, so a redrive decodes and sends what would have been sent."""

    raw: bytes
    fingerprint: str


class Prepared(NamedTuple):
    profile: FeedProfile
    payload: Payload
    request: DeliveryRequest
    problems: list[str]


@dataclass(frozen=True, slots=True)
class Unsendable:
    result: Result
    detail: str | None = None


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
        origin_limits: Mapping[str, int] | None = None,
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
        self._origin_limits = {
            origin: asyncio.Semaphore(limit) for origin, limit in (origin_limits or {}).items()
        }

    def endpoint(self, profile: FeedProfile) -> Endpoint:
        """The profile's auth, TLS and limits; a TLS file that cannot be used raises
        :class:`~streamvane.errors.ConfigError` (and is tried again for the next record)."""
        found = self._endpoints.get(profile.id)
        if found is None:
            spec = profile.endpoint
            assert spec is not None
            ssl = ssl_context(spec.tls, spec.origin.startswith("https"))
            found = self._endpoints[profile.id] = Endpoint(
                AuthProvider(spec.auth, self.redact, ssl),
                ssl,
                asyncio.Semaphore(spec.max_in_flight),
                self._origin_limits.get(spec.origin),
                spec.secret_headers,
            )
        return found

    def contract(self, profile: FeedProfile) -> tuple[PayloadRenderer, PayloadValidator]:
        found = self._contracts.get(profile.id)
        if found is None:
            found = self._contracts[profile.id] = (PayloadRenderer(profile), PayloadValidator(profile))
        return found

    def _prepare(self, record: FeedRecord) -> Prepared | Unsendable:
        """The record's payload and request, and what its contract finds wrong with the payload;
        or why it cannot be sent at all (no such profile, no endpoint, not renderable)."""
        profile = self.profiles.get(record.profile_id)
        if profile is None or profile.endpoint is None:
            return Unsendable(Result.UNKNOWN_PROFILE if profile is None else Result.NO_ENDPOINT)
        renderer, validator = self.contract(profile)
        try:
            payload = renderer.render(record)
        except UnrenderableRecord as exc:
            return Unsendable(Result.UNRENDERABLE, str(exc))
        request = build_request(profile, profile.endpoint, record, payload)
        return Prepared(profile, payload, request, validator.problems(payload.body))

    async def send(
        self,
        record: FeedRecord,
        original: Original,
        close_ms: int,
        deadline_ms: int | None,
        done: Done,
        first_number: int = 1,
        on_start: OnStart | None = None,
    ) -> Result:
        """Deliver and record; returns the result. ``first_number``: attempts already made for
        this record by an earlier run, plus one; ``on_start(number, started_ms)`` hears of each
        attempt before it is sent, and is awaited. The request leaves only once the broker has
        stored the attempt-started entry (someone must poll the producer meanwhile)."""
        prepared = self._prepare(record)
        if isinstance(prepared, Unsendable):
            subject = Subject.unsent(close_ms, self.source, record)
            outcome = Outcome(prepared.result, finished_ms=now_ms())
            return self.finish(subject, outcome, prepared.detail, original, done)
        profile, payload, request, problems = prepared
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
            outcome = Outcome(Result.INVALID_PAYLOAD, finished_ms=now_ms())
            return self.finish(subject, outcome, "; ".join(problems[:3]), original, done)
        try:
            endpoint = self.endpoint(profile)
        except ConfigError as exc:
            return self.finish(
                subject, Outcome(Result.CONFIG_ERROR, finished_ms=now_ms()), str(exc), original, done
            )
        if deadline_ms is None:
            deadline_ms = close_ms + profile.delivery_deadline_ms + profile.retry.deadline_margin_ms

        async def started(number: int, started_ms: int) -> None:
            stored = Acked()
            self.producer.produce(
                self.topics.ledger,
                attempt_started_entry(subject, number, started_ms),
                subject.key,
                on_ack=stored.set,
            )
            waits: list[Awaitable[None]] = [stored.wait()]
            if on_start is not None:
                waits.append(on_start(number, started_ms))
            try:
                await asyncio.wait_for(asyncio.gather(*waits), ANNOUNCE_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "attempt %d of %s: the ledger did not confirm its announcement", number, subject.key
                )

        def ended(attempt: Attempt) -> None:
            self.metrics.attempts.labels(profile.id, str(attempt.status or attempt.error or "error")).inc()
            self.producer.produce(
                self.topics.ledger, attempt_entry(subject, attempt), subject.key, on_ack=logged_only
            )

        outcome = await self.deliverer.deliver(
            profile,
            endpoint,
            request,
            deadline_ms,
            on_attempt=ended,
            on_start=started,
            first_number=first_number,
        )
        if outcome.delivered:
            self.metrics.latency.labels(profile.id).observe(max(0, outcome.finished_ms - close_ms) / 1000)
            if self.source == "dispatch" and record.revision == 1:
                scheduled_close = record.interval_end_ms + profile.grace_ms
                self.metrics.close_to_ack.labels(profile.id).observe(
                    max(0, outcome.finished_ms - scheduled_close) / 1000
                )
        detail = outcome.last.error if outcome.result is Result.CONFIG_ERROR and outcome.last else None
        return self.finish(subject, outcome, detail, original, done)

    async def send_update(self, record: FeedRecord, deadline_ms: int) -> Result:
        """A provisional update: rendered, checked and delivered as a final is (same auth, TLS,
        limits and retry policy, until ``deadline_ms``), but owed to no one: no ledger entry and
        no dead letter. A failure is logged; the caller counts the result."""
        prepared = self._prepare(record)
        if isinstance(prepared, Unsendable):
            log.error(
                "provisional update of %s: %s %s", record.compaction_key, prepared.result, prepared.detail
            )
            return prepared.result
        profile, _, request, problems = prepared
        if problems:
            log.error("provisional update of %s breaks its contract: %s", record.compaction_key, problems[:3])
            return Result.INVALID_PAYLOAD
        try:
            endpoint = self.endpoint(profile)
        except ConfigError as exc:
            log.error("provisional update of %s: %s", record.compaction_key, self.redact(str(exc)))
            return Result.CONFIG_ERROR
        outcome = await self.deliverer.deliver(profile, endpoint, request, deadline_ms)
        if not outcome.delivered:
            last = outcome.last
            log.warning(
                "provisional update %d of %s not delivered: %s%s",
                record.provisional,
                record.compaction_key,
                outcome.result,
                f" (last: {last.status or last.error})" if last is not None else "",
            )
        return outcome.result

    def finish(
        self, subject: Subject, outcome: Outcome, detail: str | None, original: Original, done: Done
    ) -> Result:
        """Record the outcome (ledger, and for a result owed to the endpoint a dead letter);
        ``done(stored)`` once the broker has acknowledged all of it."""
        self.metrics.outcomes.labels(subject.profile_id, outcome.result).inc()
        profile = self.profiles.get(subject.profile_id)
        if self.source == "dispatch" and profile is not None and profile.endpoint is not None:
            self.on_time.observe(profile, subject.interval_end_ms, outcome.delivered, outcome.finished_ms)
            ratio = self.on_time.ratio(profile.id, outcome.finished_ms)
            if ratio is not None:
                self.metrics.on_time_ratio.labels(profile.id).set(ratio)
        failed = outcome.result.dead_letters
        waiting, stored = (2 if failed else 1), True

        def acked(success: bool) -> None:
            nonlocal waiting, stored
            stored, waiting = stored and success, waiting - 1
            if waiting == 0:
                done(stored)

        self.producer.produce(
            self.topics.ledger,
            outcome_entry(subject, outcome, detail=self.redact(detail or "")),
            subject.key,
            on_ack=acked,
        )
        if failed:
            self.metrics.dead_letters.labels(subject.profile_id, outcome.result).inc()
            headers = dead_letter_headers(subject, outcome, outcome.result, self.redact(detail or ""))
            level = logging.ERROR if outcome.result is Result.CONFIG_ERROR else logging.WARNING
            log.log(
                level,
                "dead letter: %s interval %s revision %d: %s after %d attempts%s",
                subject.profile_id,
                subject.interval_start_ms,
                subject.revision,
                outcome.result,
                outcome.attempt_count,
                f": {self.redact(detail)}" if detail else "",
            )
            headers.append((FINGERPRINT_HEADER, original.fingerprint.encode()))
            self.producer.produce(self.topics.dead_letter, original.raw, subject.key, headers, on_ack=acked)
        return outcome.result


class Acked:
    """A broker acknowledgement to await (set from the producer's callback, on the loop)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self, _stored: bool) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


def fingerprint_of(headers: list[tuple[str, bytes | None]] | None) -> str:
    for name, value in headers or []:
        if name == FINGERPRINT_HEADER and value is not None:
            return value.decode()
    return ""
