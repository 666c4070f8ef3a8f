"""When an interval is final, and what a late event does — decided by event time alone.

* A keyed partition's **watermark** is the minimum of the input partitions' watermarks that
  ingest's markers carry (:mod:`streamvane.stages.markers`; each is that input's newest event
  time minus the reorder tolerance, or wall clock minus the delivery delay once it is idle), and
  undefined until every input has reported. A **tick** stamped ``T`` (written into the keyed
  topic, so a replay meets it at the same place) promises that every event older than
  ``T - max_delivery_delay_ms`` has been delivered, on every input: it closes a backfill.
  Watermarks never go back.
* The **combined watermark** is the minimum over every partition that feeds the tables; one
  partition not heard from yet holds it at ``None``.
* Interval ``[start, end)`` is **final** once the combined watermark reaches ``end + grace_ms``.
* An event for a final interval is a **restatement** while the watermark is before
  ``end + correction_horizon_ms`` (revision + 1), and **too late** after that (quarantined).

Nothing here reads a clock; callers pass every instant in (epoch ms UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from streamvane.kpi.intervals import IntervalGrid


class Lateness(StrEnum):
    ON_TIME = "on-time"
    RESTATE = "restate"
    TOO_LATE = "too-late"


@dataclass(frozen=True, slots=True)
class ClosingPolicy:
    """Grace and correction horizon (ms of event time after the interval end)."""

    grace_ms: int
    correction_horizon_ms: int

    def __post_init__(self) -> None:
        if self.grace_ms < 0:
            raise ValueError("grace_ms must be >= 0")
        if self.correction_horizon_ms < self.grace_ms:
            raise ValueError("correction_horizon_ms must be >= grace_ms")

    def is_final(self, interval_end_ms: int, watermark_ms: int | None) -> bool:
        return watermark_ms is not None and watermark_ms >= interval_end_ms + self.grace_ms

    def classify(self, interval_end_ms: int, watermark_ms: int | None) -> Lateness:
        """What an event landing in an interval ending at ``interval_end_ms`` does now."""
        if not self.is_final(interval_end_ms, watermark_ms):
            return Lateness.ON_TIME
        assert watermark_ms is not None
        if watermark_ms < interval_end_ms + self.correction_horizon_ms:
            return Lateness.RESTATE
        return Lateness.TOO_LATE

    def due(
        self, grid: IntervalGrid, next_start_ms: int, watermark_ms: int | None
    ) -> Iterator[tuple[int, int]]:
        """``(start, end)`` of each interval from ``next_start_ms`` on that is now final, in order."""
        start = next_start_ms
        while True:
            end = grid.next_start(start)
            if not self.is_final(end, watermark_ms):
                return
            yield start, end
            start = end


def partition_watermark(
    current_ms: int | None,
    inputs_ms: int | None,
    tick_ms: int | None = None,
    max_delivery_delay_ms: int = 0,
) -> int | None:
    """A keyed partition's new watermark: never lower than ``current_ms``. ``inputs_ms`` is the
    minimum over every input partition's marker (None while one is unheard of)."""
    candidates = [c for c in (current_ms, inputs_ms) if c is not None]
    if tick_ms is not None:
        candidates.append(tick_ms - max_delivery_delay_ms)
    return max(candidates) if candidates else None


def combined_watermark(watermarks: Mapping[int, int | None], partitions: Iterable[int]) -> int | None:
    """The minimum over ``partitions``; ``None`` while any of them has no watermark yet."""
    values = [watermarks.get(p) for p in partitions]
    if not values or any(v is None for v in values):
        return None
    return min(v for v in values if v is not None)
