"""A delivery ledger with known outcomes, written with the dispatcher's own entry builders: what
the SLA report is judged against."""

from __future__ import annotations

from dataclasses import dataclass

from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.intervals import parse_instant
from streamvane.sinks.ledger import Subject, attempt_entry, outcome_entry
from streamvane.sinks.outcome import Attempt, Outcome

MINUTE = 60_000
# On time: within 10 min of close. Local midnight (PST, UTC−8) falls at 08:00Z: two days.
PROFILE = FeedProfile(id="wfm-sla", version=1, grace_ms=16 * MINUTE, time_zone="America/Los_Angeles")


def close_of(start: str) -> int:
    """Scheduled close of the PT15M interval starting at ``start``: end + 16 min grace."""
    return parse_instant(start) + 15 * MINUTE + 16 * MINUTE


@dataclass
class LedgerWriter:
    entries: list[bytes]

    def delivery(
        self,
        start: str,
        statuses: list[int | None],
        finished_ms: int,
        *,
        emitted_ms: int | None = None,
        source: str = "dispatch",
        result: str | None = None,
    ) -> None:
        """One delivery of revision 1: its attempts (None: a connection error) and its outcome."""
        start_ms = parse_instant(start)
        emitted = emitted_ms if emitted_ms is not None else close_of(start) + 2_000
        subject = Subject(
            PROFILE.id, 1, start_ms, start_ms + 15 * MINUTE, 1, "k", "u", "PUT", "", 0, 1, emitted, source
        )
        step = (finished_ms - emitted) // max(1, len(statuses))
        attempts = [
            Attempt(
                n + 1, emitted + n * step, 50, status, None if status else "ClientConnectorError", None, ""
            )
            for n, status in enumerate(statuses)
        ]
        for attempt in attempts:
            self.entries.append(attempt_entry(subject, attempt))
        final = result or ("delivered" if statuses and statuses[-1] == 200 else "rejected")
        self.entries.append(outcome_entry(subject, Outcome(Result(final), attempts, finished_ms)))


def known_ledger() -> tuple[list[bytes], set[int]]:
    """Ten due intervals over two local days: 4 on time, 3 late, 3 missing; plus the emitted
    interval starts the feed topic would hold."""
    w = LedgerWriter([])
    w.delivery("2026-11-02T07:30:00Z", [200], close_of("2026-11-02T07:30:00Z") + 3 * MINUTE)
    w.delivery("2026-11-02T07:45:00Z", [200], close_of("2026-11-02T07:45:00Z") + 9 * MINUTE)
    w.delivery("2026-11-02T08:00:00Z", [200], close_of("2026-11-02T08:00:00Z") + 2 * MINUTE)
    w.delivery("2026-11-02T08:15:00Z", [503, 503, 200], close_of("2026-11-02T08:15:00Z") + 15 * MINUTE)
    w.delivery("2026-11-02T08:30:00Z", [422], close_of("2026-11-02T08:30:00Z") + MINUTE)
    w.delivery(
        "2026-11-02T08:45:00Z",
        [None, None],
        close_of("2026-11-02T08:45:00Z") + 10 * MINUTE,
        result="deadline-exceeded",
    )
    w.delivery(
        "2026-11-02T08:45:00Z",
        [200],
        close_of("2026-11-02T08:45:00Z") + 70 * MINUTE,
        emitted_ms=close_of("2026-11-02T08:45:00Z") + 69 * MINUTE,
        source="redrive",
    )
    w.delivery(
        "2026-11-02T09:30:00Z",
        [200],
        close_of("2026-11-02T09:30:00Z") + 31 * MINUTE,
        emitted_ms=close_of("2026-11-02T09:30:00Z") + 30 * MINUTE,
    )
    w.delivery("2026-11-02T09:45:00Z", [200], close_of("2026-11-02T09:45:00Z") + 10 * MINUTE)
    emitted = {
        parse_instant(s)
        for s in (
            "2026-11-02T07:30:00Z",
            "2026-11-02T07:45:00Z",
            "2026-11-02T08:00:00Z",
            "2026-11-02T08:15:00Z",
            "2026-11-02T08:30:00Z",
            "2026-11-02T08:45:00Z",
            "2026-11-02T09:00:00Z",  # emitted, never delivered
            "2026-11-02T09:30:00Z",
            "2026-11-02T09:45:00Z",
        )
    }
    return w.entries, emitted


EXPECTED_EXCEPTIONS = [
    ("2026-11-02T08:15:00.000Z/2026-11-02T08:30:00.000Z", "late", ["retries: HTTP 503"]),
    (
        "2026-11-02T08:30:00.000Z/2026-11-02T08:45:00.000Z",
        "missing",
        ["dead letter: rejected (1 attempts)", "retries: HTTP 422"],
    ),
    (
        "2026-11-02T08:45:00.000Z/2026-11-02T09:00:00.000Z",
        "late",
        [
            "dead letter: deadline-exceeded (2 attempts)",
            "endpoint down: ClientConnectorError",
            "delivered by redrive",
        ],
    ),
    (
        "2026-11-02T09:00:00.000Z/2026-11-02T09:15:00.000Z",
        "missing",
        ["emitted, never delivered (dispatcher down or behind)"],
    ),
    (
        "2026-11-02T09:15:00.000Z/2026-11-02T09:30:00.000Z",
        "missing",
        ["not emitted (worker down or watermark stalled)"],
    ),
    (
        "2026-11-02T09:30:00.000Z/2026-11-02T09:45:00.000Z",
        "late",
        ["record emitted 30.0 min after close (worker down or watermark stalled)"],
    ),
]
