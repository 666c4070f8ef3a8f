"""The Deliverer at its transport seam: a fake HTTP session, an injected clock and sleep. Each
case is a sequence of answers in, the attempts, waits and result out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.request import DeliveryRequest
from streamvane.feeds.secrets import SecretRef
from streamvane.sinks.auth import AuthProvider
from streamvane.sinks.delivery import Deliverer, Endpoint
from streamvane.sinks.outcome import Attempt
from streamvane.sinks.redaction import Redactor

PROFILE = FeedProfile.model_validate(
    {
        "id": "p",
        "version": 1,
        "endpoint": {"url": "https://wfm.test/x"},
        "retry": {"base_ms": 1000, "cap_ms": 8000},
    }
)
REQUEST = DeliveryRequest("PUT", "http://wfm.test/x", {"Idempotency-Key": '"k"'}, b"{}")


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSession:
    """Answers in order; an exception instance is raised instead of answering."""

    answers: Iterator[Answer | Exception]
    sent: list[dict[str, str]] = field(default_factory=list)

    @asynccontextmanager
    async def request(self, method: str, url: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.sent.append(dict(kwargs["headers"]))
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        yield _Response(answer)


class _Response:
    def __init__(self, answer: Answer) -> None:
        self.status, self.headers = answer.status, answer.headers
        self.content = self

    async def read(self, _n: int) -> bytes:
        return b'{"ok": false}'


@dataclass
class Clock:
    now: int = 1_000_000
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += round(seconds * 1000)


def deliver(
    answers: list[Answer | Exception], deadline_in_ms: int = 60_000, first_number: int = 1, **endpoint: Any
) -> tuple[Any, Clock, FakeSession, list[tuple[str, int]]]:
    clock = Clock()
    session = FakeSession(iter(answers))
    events: list[tuple[str, int]] = []
    redactor = Redactor()
    target = Endpoint(AuthProvider(PROFILE.endpoint.auth, redactor), None, asyncio.Semaphore(1), **endpoint)  # type: ignore[union-attr]
    deliverer = Deliverer(session, redactor, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]

    async def started(number: int, _at: int) -> None:
        events.append(("start", number))

    def ended(attempt: Attempt) -> None:
        events.append(("end", attempt.number))

    outcome = asyncio.run(
        deliverer.deliver(
            PROFILE,
            target,
            REQUEST,
            clock.now + deadline_in_ms,
            on_attempt=ended,
            on_start=started,
            first_number=first_number,
        )
    )
    return outcome, clock, session, events


def test_retry_after_is_waited_and_attempt_numbers_continue_from_an_earlier_run() -> None:
    outcome, clock, _, events = deliver(
        [Answer(503, {"Retry-After": "2"}), Answer(429, {"Retry-After": "1"}), Answer(200)], first_number=4
    )
    assert outcome.result is Result.DELIVERED
    assert clock.slept == [2.0, 1.0]
    assert [a.number for a in outcome.attempts] == [4, 5, 6] and outcome.attempt_count == 6
    assert events == [("start", 4), ("end", 4), ("start", 5), ("end", 5), ("start", 6), ("end", 6)]


def test_a_refusal_is_final_and_a_deadline_ends_the_retries() -> None:
    refused, clock, _, _ = deliver([Answer(400)])
    assert refused.result is Result.REJECTED and clock.slept == []
    late, clock, _, _ = deliver([Answer(503, {"Retry-After": "30"})] * 3, deadline_in_ms=45_000)
    assert late.result is Result.DEADLINE_EXCEEDED
    assert clock.slept == [30.0] and len(late.attempts) == 2, "no attempt would start after the deadline"


def test_connection_errors_are_retried_with_backoff() -> None:
    error = aiohttp.ClientConnectionError("refused")
    outcome, clock, _, _ = deliver([error, error, Answer(204)])
    assert outcome.result is Result.DELIVERED
    assert [a.error for a in outcome.attempts] == ["connection: ClientConnectionError"] * 2 + [None]
    assert len(clock.slept) == 2 and all(0 <= s <= 8 for s in clock.slept)


def test_a_missing_secret_is_a_config_error_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SV_UNSET_KEY", raising=False)
    outcome, clock, session, _ = deliver(
        [Answer(200)], secret_headers={"X-Api-Key": SecretRef(env="SV_UNSET_KEY")}
    )
    assert outcome.result is Result.CONFIG_ERROR and len(outcome.attempts) == 1
    assert outcome.attempts[0].error == "config: secret env:SV_UNSET_KEY: not set or empty"
    assert clock.slept == [] and session.sent == [], "nothing was sent"


def test_secret_headers_are_sent_and_never_show_in_the_trail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_KEY", "k3y-value-8f2c")
    outcome, _, session, _ = deliver(
        [Answer(500), Answer(200)], secret_headers={"X-Api-Key": SecretRef(env="SV_KEY")}
    )
    assert outcome.delivered and [h["X-Api-Key"] for h in session.sent] == ["k3y-value-8f2c"] * 2
    assert all("k3y-value-8f2c" not in (a.excerpt + (a.error or "")) for a in outcome.attempts)
