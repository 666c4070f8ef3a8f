"""Outcome rules and the ledger's entries: which results are owed to the endpoint, and what the
trail says (true attempt totals, no body, no secret)."""

from __future__ import annotations

import orjson

from streamvane.feeds.delivery_result import Result
from streamvane.sinks.ledger import Subject, attempt_started_entry, dead_letter_headers, outcome_entry
from streamvane.sinks.outcome import Attempt, Outcome

SUBJECT = Subject("p", 1, 0, 900_000, 2, "key", "https://wfm/x", "PUT", "sha", 10, 1, 5, "dispatch")


def test_only_results_owed_to_the_endpoint_are_dead_lettered() -> None:
    owed = {r for r in Result if r.dead_letters}
    assert owed == {
        Result.REJECTED,
        Result.DEADLINE_EXCEEDED,
        Result.INVALID_PAYLOAD,
        Result.UNRENDERABLE,
        Result.CONFIG_ERROR,
        Result.UNKNOWN_PROFILE,
        Result.UNDECODABLE,
    }


def test_attempts_count_across_restarts_in_every_entry() -> None:
    attempts = [Attempt(n, 100 * n, 5, 503, None, "1", "busy") for n in (7, 8, 9)]  # 6 came before
    outcome = Outcome(Result.DEADLINE_EXCEEDED, attempts, 1_000)
    entry = orjson.loads(outcome_entry(SUBJECT, outcome, detail="why"))
    assert (entry["kind"], entry["attempts"], entry["detail"], entry["revision"]) == ("outcome", 9, "why", 2)
    context = orjson.loads(
        dict(dead_letter_headers(SUBJECT, outcome, "deadline-exceeded"))["streamvane.dlq.context"]
    )
    assert context["attempts"] == 9 and context["firstAttemptMs"] == 700


def test_an_attempt_is_announced_before_it_is_sent() -> None:
    entry = orjson.loads(attempt_started_entry(SUBJECT, 4, 12_345))
    assert (entry["kind"], entry["attempt"], entry["startedMs"], entry["idempotencyKey"]) == (
        "attempt-started",
        4,
        12_345,
        "key",
    )
