"""What became of one feed record at the dispatcher: its attempts and its final result.

Every result is a :class:`~streamvane.feeds.delivery_result.Result` (which ones are dead-lettered
is decided there, once). Times are epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamvane.feeds.delivery_result import Result


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int  # counted across restarts of the dispatcher
    started_ms: int
    latency_ms: int
    status: int | None
    error: str | None
    retry_after: str | None
    excerpt: str


@dataclass(slots=True)
class Outcome:
    result: Result
    attempts: list[Attempt] = field(default_factory=list)
    finished_ms: int = 0

    @property
    def delivered(self) -> bool:
        return self.result is Result.DELIVERED

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def attempt_count(self) -> int:
        """The true total, including attempts made before a restart."""
        return self.attempts[-1].number if self.attempts else 0
