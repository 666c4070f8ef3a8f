"""When and how long to wait before retrying a delivery (pure; the dispatcher supplies clock and rng).

The contract:
- retryable: connection errors and timeouts, and the statuses in ``retry_statuses`` (default 408,
  425, 429 and every 5xx); any other non-2xx is final and goes to the dead-letter topic at once;
- the wait is capped exponential backoff with full jitter, ``uniform(0, min(cap, base·2^attempt))``;
- a ``Retry-After`` header (delay-seconds or an HTTP-date, RFC 9110 §10.2.3) replaces the backoff,
  clamped to ``[0, retry_after_max_ms]``;
- no attempt starts after the deadline (interval delivery deadline + ``deadline_margin_ms``): the
  record is then dead-lettered with reason ``deadline-exceeded``.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The 4xx statuses a retry may fix: timeout, conflict, locked, too early, too many requests.
RETRYABLE_4XX = frozenset({408, 409, 423, 425, 429})


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retry_statuses: tuple[int | str, ...] = Field(
        (408, 425, 429, "5xx"), description="Statuses worth retrying: codes, 'NNN-MMM' ranges or '5xx'."
    )
    base_ms: int = Field(500, gt=0, description="First backoff ceiling.")
    cap_ms: int = Field(30_000, gt=0, description="Largest backoff ceiling.")
    retry_after_max_ms: int = Field(60_000, ge=0, description="Retry-After is clamped to this.")
    deadline_margin_ms: int = Field(
        0, ge=0, description="Keep retrying this long past the delivery deadline before dead-lettering."
    )

    @field_validator("retry_statuses")
    @classmethod
    def _statuses(cls, value: tuple[int | str, ...]) -> tuple[int | str, ...]:
        for item in value:
            lo, hi = _range(item)
            if lo < 400:
                raise ValueError(f"retry_statuses: {item!r} is not a failure (only 4xx and 5xx are retried)")
            futile = sorted(set(range(max(lo, 400), min(hi, 499) + 1)) - RETRYABLE_4XX)
            if futile:
                shown = ", ".join(map(str, futile[:4])) + (" …" if len(futile) > 4 else "")
                raise ValueError(
                    f"retry_statuses: {item!r} includes {shown}, which a retry cannot fix; list the 4xx "
                    f"statuses worth retrying one by one (from {sorted(RETRYABLE_4XX)})"
                )
        return value

    @model_validator(mode="after")
    def _cap(self) -> Self:
        if self.cap_ms < self.base_ms:
            raise ValueError("cap_ms must be >= base_ms")
        return self

    def retryable(self, status: int) -> bool:
        return any(lo <= status <= hi for lo, hi in map(_range, self.retry_statuses))

    def backoff_ms(self, attempt: int, rng: random.Random) -> int:
        """Full jitter for the wait after the ``attempt``-th failure (1-based)."""
        ceiling = min(self.cap_ms, self.base_ms * 2 ** min(attempt - 1, 30))
        return int(rng.uniform(0, ceiling))

    def wait_ms(self, attempt: int, retry_after: str | None, now_ms: int, rng: random.Random) -> int:
        hinted = parse_retry_after(retry_after, now_ms)
        if hinted is not None:
            return min(hinted, self.retry_after_max_ms)
        return self.backoff_ms(attempt, rng)


def _range(item: int | str) -> tuple[int, int]:
    if isinstance(item, int):
        if not 100 <= item <= 599:
            raise ValueError(f"status {item} is not an HTTP status")
        return item, item
    text = item.strip().lower()
    if len(text) == 3 and text.endswith("xx") and text[0] in "12345":
        base = int(text[0]) * 100
        return base, base + 99
    lo, sep, hi = text.partition("-")
    if sep and lo.isdigit() and hi.isdigit() and 100 <= int(lo) <= int(hi) <= 599:
        return int(lo), int(hi)
    raise ValueError(f"status {item!r}: expected a code, 'NNN-MMM' or 'Nxx'")


def parse_retry_after(value: str | None, now_ms: int) -> int | None:
    """Milliseconds to wait, from delay-seconds or an HTTP-date; None when absent or unparseable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text) * 1000
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, round(when.timestamp() * 1000) - now_ms)
