"""Per-profile delivery progress: where each profile's lane stands, kept beside Kafka's offset.

Kafka's committed offset of the feed topic can only move past a record once *every* earlier
record is finished, so one stalled profile holds it back for all. Each profile's own position is
therefore written to a compacted progress topic (key ``<group>|<profile>``): ``next`` — per feed
partition, the offset below which every record of this profile is finished — and ``head`` — the
record its lane is working on and how many attempts it has started. After a restart a record of
the profile below its ``next`` is not sent again, whatever another profile is doing, and the
head's attempts continue their count (a dead letter says the true total). Pure: the dispatcher
reads and writes the topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from streamvane.sinks.offsets import OffsetTracker


@dataclass(frozen=True, slots=True)
class Head:
    partition: int
    offset: int
    attempts: int


@dataclass
class ProfileProgress:
    next: dict[int, int] = field(default_factory=dict)
    head: Head | None = None
    tracker: OffsetTracker = field(default_factory=OffsetTracker)

    def encode(self) -> bytes:
        head = None if self.head is None else [self.head.partition, self.head.offset, self.head.attempts]
        return orjson.dumps({"next": {str(p): o for p, o in sorted(self.next.items())}, "head": head})

    @classmethod
    def decode(cls, raw: bytes) -> ProfileProgress:
        doc: dict[str, Any] = orjson.loads(raw)
        head = doc.get("head")
        return cls(
            {int(p): int(o) for p, o in (doc.get("next") or {}).items()},
            Head(*head) if head else None,
        )

    def done_before(self, partition: int, offset: int) -> bool:
        """Whether the record at ``offset`` was finished by an earlier run."""
        return offset < self.next.get(partition, -1)

    def prior_attempts(self, partition: int, offset: int) -> int:
        head = self.head
        return (
            head.attempts if head is not None and (head.partition, head.offset) == (partition, offset) else 0
        )

    def started(self, partition: int, offset: int) -> None:
        self.tracker.started(partition, offset)

    def finished(self, partition: int, offset: int) -> bool:
        """Mark finished; True when the profile's position moved (worth writing)."""
        self.tracker.finished(partition, offset)
        moved = self.tracker.committable()
        for p, o in moved.items():
            self.next[p] = max(o, self.next.get(p, 0))
        if self.head is not None and self.head.offset < self.next.get(self.head.partition, 0):
            self.head = None
        return bool(moved)

    def attempt(self, partition: int, offset: int, number: int) -> None:
        self.head = Head(partition, offset, number)


def progress_key(group_id: str, profile_id: str) -> bytes:
    return f"{group_id}|{profile_id}".encode()
