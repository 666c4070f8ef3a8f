"""What became of one feed record at the dispatcher: its attempts and its final result.

Every result is a :class:`Result`; which ones go to the dead-letter topic is decided here, once
(:attr:`Result.dead_letters`). Times are epoch ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Result(StrEnum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # a status that is not worth retrying (4xx)
    DEADLINE_EXCEEDED = "deadline-exceeded"
    INVALID_PAYLOAD = "invalid-payload"  # the rendered body breaks the profile's own schema
    UNRENDERABLE = "unrenderable"  # the record cannot be rendered as computed (schema v1)
    CONFIG_ERROR = "config-error"  # a missing certificate, CA file or secret: not retried
    UNKNOWN_PROFILE = "unknown-profile"
    UNDECODABLE = "undecodable"
    NO_ENDPOINT = "no-endpoint"  # a records-only profile: nothing to send
    SUPERSEDED = "superseded"  # a newer revision of the interval exists: an older one is never sent

    @property
    def dead_letters(self) -> bool:
        """Whether a record with this result is owed to its endpoint (dead-lettered)."""
        return self not in (Result.DELIVERED, Result.NO_ENDPOINT, Result.SUPERSEDED)


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
