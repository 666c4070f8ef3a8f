"""The delivery ledger and dead-letter messages: what was sent, when, and what came back.

Ledger entries are JSON keyed ``profile|interval_start_ms`` so one interval's history stays in
order: ``kind: attempt-started`` before each request leaves (so a crash mid-request still leaves
a trace), ``kind: attempt`` when it ends, and one ``kind: outcome`` per final result. Attempt
numbers, and an outcome's ``attempts``, count across restarts of the dispatcher.
They hold the body's SHA-256 and size, never the body's credentials or any header value that
could carry one. Dead letters keep the original Avro record bytes as their value (so a redrive
delivers exactly what would have been delivered) and the context in headers. Times are epoch ms.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from streamvane.feeds.render import utc_iso
from streamvane.records.feed_record import FeedRecord
from streamvane.sinks.outcome import Attempt, Outcome

DLQ_REASON = "streamvane.dlq.reason"
DLQ_CONTEXT = "streamvane.dlq.context"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a ledger entry is about: a record's identity and the body sent for it."""

    profile_id: str
    profile_version: int
    interval_start_ms: int
    interval_end_ms: int
    revision: int
    idempotency_key: str
    url: str
    method: str
    body_sha256: str
    body_bytes: int
    rows: int
    close_ms: int
    source: str  # dispatch | replay | redrive

    @classmethod
    def of(
        cls,
        record: FeedRecord,
        method: str,
        url: str,
        body: bytes,
        rows: int,
        close_ms: int,
        source: str,
        key: str | None = None,
    ) -> Subject:
        return cls(
            record.profile_id,
            record.profile_version,
            record.interval_start_ms,
            record.interval_end_ms,
            record.revision,
            key or record.idempotency_key,
            url,
            method,
            hashlib.sha256(body).hexdigest(),
            len(body),
            rows,
            close_ms,
            source,
        )

    @classmethod
    def unsent(cls, close_ms: int, source: str, record: FeedRecord | None = None) -> Subject:
        """For an outcome reached without a request (unknown profile, no endpoint, undecodable)."""
        if record is None:
            return cls("?", 0, 0, 0, 0, "", "-", "-", "", 0, 0, close_ms, source)
        return cls.of(record, "-", "-", b"", 0, close_ms, source)

    @property
    def key(self) -> bytes:
        return f"{self.profile_id}|{self.interval_start_ms}".encode()

    def base(self) -> dict[str, Any]:
        return {
            "profile": self.profile_id,
            "profileVersion": self.profile_version,
            "intervalStart": utc_iso(self.interval_start_ms),
            "intervalStartMs": self.interval_start_ms,
            "intervalEndMs": self.interval_end_ms,
            "revision": self.revision,
            "idempotencyKey": self.idempotency_key,
            "method": self.method,
            "url": self.url,
            "bodySha256": self.body_sha256,
            "bodyBytes": self.body_bytes,
            "rows": self.rows,
            "closeMs": self.close_ms,
            "source": self.source,
        }


def attempt_started_entry(subject: Subject, number: int, started_ms: int) -> bytes:
    return orjson.dumps(
        {**subject.base(), "kind": "attempt-started", "attempt": number, "startedMs": started_ms}
    )


def attempt_entry(subject: Subject, attempt: Attempt) -> bytes:
    return orjson.dumps(
        {
            **subject.base(),
            "kind": "attempt",
            "attempt": attempt.number,
            "startedMs": attempt.started_ms,
            "latencyMs": attempt.latency_ms,
            "status": attempt.status,
            "error": attempt.error,
            "retryAfter": attempt.retry_after,
            "responseSha256": hashlib.sha256(attempt.excerpt.encode()).hexdigest(),
        }
    )


def outcome_entry(subject: Subject, outcome: Outcome, reason: str | None = None, detail: str = "") -> bytes:
    last = outcome.last
    return orjson.dumps(
        {
            **subject.base(),
            "kind": "outcome",
            "result": outcome.result if reason is None else reason,
            "detail": detail or None,
            "attempts": outcome.attempt_count,
            "status": last.status if last else None,
            "error": last.error if last else None,
            "firstAttemptMs": outcome.attempts[0].started_ms if outcome.attempts else None,
            "finishedMs": outcome.finished_ms,
        }
    )


def dead_letter_headers(
    subject: Subject, outcome: Outcome, reason: str, detail: str = ""
) -> list[tuple[str, bytes]]:
    last = outcome.last
    context = {
        **subject.base(),
        "reason": reason,
        "detail": detail,
        "attempts": outcome.attempt_count,
        "status": last.status if last else None,
        "error": last.error if last else None,
        "responseExcerpt": last.excerpt[:512] if last else "",
        "firstAttemptMs": outcome.attempts[0].started_ms if outcome.attempts else None,
        "lastAttemptMs": last.started_ms if last else None,
        "finishedMs": outcome.finished_ms,
        "deadLetteredAt": utc_iso(outcome.finished_ms) if outcome.finished_ms else None,
    }
    return [(DLQ_REASON, reason.encode()), (DLQ_CONTEXT, orjson.dumps(context))]
