"""Routing drift: the queues a contract covers against the queues that carry traffic.

After a routing change, traffic moves. Two findings follow:
- **unmapped**: a queue that carries traffic, in intervals of a profile that lists dimensions,
  but is listed in none of them. Its calls are in the records but in no payload.
- **silent**: a queue a profile lists that has had no offered interaction for longer than the
  profile's ``silent_after_ms``. Its rows are zeros; the traffic has likely gone elsewhere.

A profile without dimensions delivers every queue, so nothing is unmapped for it. Feed records
carry a row for every queue with traffic, listed or not, which is why both findings can be read
from them. Interval times are epoch ms; "silent since" is the end of the last interval with
traffic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from streamvane.feeds.profile import FeedProfile
from streamvane.records.feed_record import DimensionRow, FeedRecord

Queue = tuple[str, str]  # (queue id, media type)


@dataclass(frozen=True, slots=True)
class DriftFinding:
    kind: Literal["unmapped", "silent"]
    profile_id: str
    queue_id: str
    media_type: str
    offered: int = 0  # unmapped: offered interactions seen
    since_ms: int | None = None  # unmapped: first interval start; silent: end of last traffic (None: never)


def offered(row: DimensionRow) -> int:
    return next((m.count for m in row.metrics if m.metric == "nOffered"), 0)


def unmapped_in(profile: FeedProfile, record: FeedRecord) -> list[DriftFinding]:
    """The queues with offered traffic in ``record`` that ``profile`` does not list."""
    if not profile.dimensions:
        return []
    listed = {(d.queue_id, d.media_type) for d in profile.dimensions}
    return [
        DriftFinding(
            "unmapped", profile.id, row.queue_id, row.media_type, offered(row), record.interval_start_ms
        )
        for row in record.rows
        if (row.queue_id, row.media_type) not in listed and offered(row) > 0
    ]


@dataclass
class SilenceTracker:
    """The worker's live view: per profile and listed queue, the end of its last interval with
    traffic. A queue it has not seen traffic for since it started counts from the first interval
    it saw (no finding before ``silent_after_ms`` has passed)."""

    last_traffic: dict[tuple[str, str, str], int] = field(default_factory=dict)
    silent: set[tuple[str, str, str]] = field(default_factory=set)

    def observe(self, profile: FeedProfile, record: FeedRecord) -> list[DriftFinding]:
        """Newly silent queues of ``profile`` after ``record`` (each reported once until traffic returns)."""
        limit = profile.silent_after_ms
        if limit is None:
            return []
        traffic = {(r.queue_id, r.media_type) for r in record.rows if offered(r) > 0}
        found = []
        for d in profile.dimensions:
            key = (profile.id, d.queue_id, d.media_type)
            if (d.queue_id, d.media_type) in traffic:
                self.last_traffic[key] = max(self.last_traffic.get(key, 0), record.interval_end_ms)
                self.silent.discard(key)
                continue
            last = self.last_traffic.setdefault(key, record.interval_start_ms)
            if record.interval_end_ms - last > limit and key not in self.silent:
                self.silent.add(key)
                found.append(DriftFinding("silent", profile.id, d.queue_id, d.media_type, since_ms=last))
        return found

    def silent_count(self, profile_id: str) -> int:
        return sum(1 for key in self.silent if key[0] == profile_id)


def drift_report(
    profiles: Sequence[FeedProfile], records: Iterable[FeedRecord], from_ms: int, to_ms: int
) -> list[DriftFinding]:
    """Over the intervals starting in ``[from_ms, to_ms)``: each unmapped queue once per profile,
    with its offered total and first interval; each listed queue of a profile with a
    ``silent_after_ms`` whose last traffic ended more than that before ``to_ms`` (or never came)."""
    by_id = {p.id: p for p in profiles}
    unmapped: dict[tuple[str, str, str], DriftFinding] = {}
    last: dict[tuple[str, str, str], int] = {}
    for record in sorted(records, key=lambda r: r.interval_start_ms):
        profile = by_id.get(record.profile_id)
        if profile is None or not from_ms <= record.interval_start_ms < to_ms:
            continue
        for finding in unmapped_in(profile, record):
            key = (finding.profile_id, finding.queue_id, finding.media_type)
            seen = unmapped.get(key)
            total = finding.offered + (seen.offered if seen else 0)
            first = seen.since_ms if seen else finding.since_ms
            unmapped[key] = DriftFinding("unmapped", *key, offered=total, since_ms=first)
        for row in record.rows:
            if offered(row) > 0:
                last[(profile.id, row.queue_id, row.media_type)] = record.interval_end_ms
    silent = [
        DriftFinding(
            "silent", p.id, d.queue_id, d.media_type, since_ms=last.get((p.id, d.queue_id, d.media_type))
        )
        for p in profiles
        if p.silent_after_ms is not None
        for d in p.dimensions
        if to_ms - last.get((p.id, d.queue_id, d.media_type), from_ms) > p.silent_after_ms
    ]
    return sorted(unmapped.values(), key=lambda f: (f.profile_id, f.queue_id)) + silent
