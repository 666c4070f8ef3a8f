"""Retry classification, full-jitter backoff and Retry-After (both forms, clamped)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from streamvane.feeds.retry_policy import RetryPolicy, parse_retry_after

NOW = 1_793_606_400_000  # 2026-11-02T08:00:00Z


def test_default_retryable_statuses() -> None:
    policy = RetryPolicy()
    assert [
        s for s in (400, 401, 404, 408, 409, 422, 425, 429, 500, 501, 503, 599) if policy.retryable(s)
    ] == [
        408,
        425,
        429,
        500,
        501,
        503,
        599,
    ]


def test_status_ranges() -> None:
    policy = RetryPolicy(retry_statuses=(409, "500-504"))
    assert policy.retryable(409) and policy.retryable(504)
    assert not policy.retryable(505) and not policy.retryable(429)
    with pytest.raises(ValidationError, match="expected a code"):
        RetryPolicy(retry_statuses=("5x",))


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7", NOW) == 7_000
    assert parse_retry_after("Mon, 02 Nov 2026 08:00:30 GMT", NOW) == 30_000
    assert parse_retry_after("Mon, 02 Nov 2026 07:00:00 GMT", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_retry_after_replaces_backoff_and_is_clamped() -> None:
    policy = RetryPolicy(retry_after_max_ms=10_000)
    rng = random.Random(1)
    assert policy.wait_ms(1, "3", NOW, rng) == 3_000
    assert policy.wait_ms(1, "3600", NOW, rng) == 10_000


@given(st.integers(1, 60), st.integers(0, 2**32))
def test_full_jitter_stays_under_the_capped_exponential(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_ms=200, cap_ms=5_000)
    wait = policy.backoff_ms(attempt, random.Random(seed))
    assert 0 <= wait <= min(5_000, 200 * 2 ** (attempt - 1))
