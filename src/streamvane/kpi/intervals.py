"""Interval and time-zone math: which reporting interval an instant belongs to.

The contract, written down once for the whole project:

* Instants are epoch **milliseconds, UTC** (``*_ms``), as Genesys reports ``eventTime``.
* Intervals are **half-open** ``[start_ms, end_ms)``: an event at exactly ``end_ms`` belongs to
  the next interval.
* Intervals are aligned to the **local wall clock of an IANA time zone**: a PT30M interval starts
  at local :00 or :30. In Asia/Kathmandu (UTC+05:45) a PT60M interval therefore starts at UTC :15;
  in Asia/Kolkata (UTC+05:30) at UTC :30.
* On DST days the local day has 23 or 25 hours. Intervals are identified by their **UTC** start,
  so the repeated local hour of a fall-back day yields two distinct intervals. Where a zone's
  offset changes in the middle of an interval (a shift that is not a multiple of the
  granularity), the interval is cut at the transition, so intervals never overlap nor leave gaps.
* Interval strings are ISO-8601 ``start/end`` in UTC with milliseconds and ``Z``, as the Genesys
  aggregates API writes them: ``2024-06-11T10:00:00.000Z/2024-06-11T10:15:00.000Z``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE_MS = 60_000


class Granularity(Enum):
    """The interval lengths a feed may use, by their ISO-8601 names."""

    PT15M = 15
    PT30M = 30
    PT60M = 60

    @property
    def ms(self) -> int:
        return self.value * MINUTE_MS

    @classmethod
    def parse(cls, text: str) -> Granularity:
        """``PT15M``/``PT30M``/``PT60M`` (``PT1H`` accepted for the hour)."""
        normalised = "PT60M" if text.upper() == "PT1H" else text.upper()
        try:
            return cls[normalised]
        except KeyError:
            raise ValueError(f"unsupported granularity {text!r}: use PT15M, PT30M or PT60M") from None


def zone(name: str) -> ZoneInfo:
    """An IANA zone, with a clear error for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None


def offset_ms(tz: ZoneInfo, at_ms: int) -> int:
    """The zone's UTC offset in force at the instant ``at_ms``."""
    offset = datetime.fromtimestamp(at_ms / 1000, tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() * 1000)


def format_instant(at_ms: int) -> str:
    """``2024-06-11T10:00:00.000Z`` for an epoch-ms instant."""
    dt = datetime.fromtimestamp(at_ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at_ms % 1000:03d}Z"


def format_interval(start_ms: int, end_ms: int) -> str:
    """Genesys' interval string, ``start/end`` in UTC."""
    return f"{format_instant(start_ms)}/{format_instant(end_ms)}"


def parse_instant(text: str) -> int:
    """An ISO-8601 instant with an explicit offset or ``Z`` to epoch ms (naive times are refused)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"instant {text!r} has no UTC offset")
    return round(dt.timestamp() * 1000)


@dataclass(slots=True)
class IntervalGrid:
    """The intervals of one granularity in one zone.

    ``bounds(at_ms)`` is on the hot path of the KPI core, so results are memoised per UTC minute:
    every interval boundary of every zone with whole-minute offsets falls on a minute.
    """

    granularity: Granularity
    time_zone: str = "UTC"
    _tz: ZoneInfo = field(init=False, repr=False)
    _cache: dict[int, tuple[int, int]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._tz = zone(self.time_zone)

    @property
    def length_ms(self) -> int:
        return self.granularity.ms

    def start_of(self, at_ms: int) -> int:
        """UTC start of the interval containing ``at_ms``."""
        hit = self._cache.get(at_ms // MINUTE_MS)
        return hit[0] if hit is not None else self.bounds(at_ms)[0]

    def bounds(self, at_ms: int) -> tuple[int, int]:
        """``(start_ms, end_ms)`` of the interval containing ``at_ms``; ``start <= at < end``."""
        minute = at_ms // MINUTE_MS
        hit = self._cache.get(minute)
        if hit is None:
            hit = self._compute(minute * MINUTE_MS)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[minute] = hit
        return hit

    def next_start(self, start_ms: int) -> int:
        """The start of the interval after the one starting at ``start_ms``."""
        return self.bounds(start_ms)[1]

    def starts_between(self, from_ms: int, to_ms: int) -> list[int]:
        """UTC starts of every interval that overlaps ``[from_ms, to_ms)``, ascending."""
        starts: list[int] = []
        start = self.start_of(from_ms)
        while start < to_ms:
            starts.append(start)
            start = self.next_start(start)
        return starts

    def _compute(self, at_ms: int) -> tuple[int, int]:
        length = self.granularity.ms
        offset = offset_ms(self._tz, at_ms)
        start = (at_ms + offset) // length * length - offset
        end = start + length
        if offset_ms(self._tz, start) != offset:
            start = self._transition(start, at_ms)
        if offset_ms(self._tz, end - 1) != offset:
            end = self._transition(at_ms, end - 1)
        return start, end

    def _transition(self, lo_ms: int, hi_ms: int) -> int:
        """First minute in ``(lo, hi]`` whose offset equals the offset at ``hi`` (bisection)."""
        target = offset_ms(self._tz, hi_ms)
        lo, hi = lo_ms // MINUTE_MS, hi_ms // MINUTE_MS
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if offset_ms(self._tz, mid * MINUTE_MS) == target:
                hi = mid
            else:
                lo = mid
        return hi * MINUTE_MS
