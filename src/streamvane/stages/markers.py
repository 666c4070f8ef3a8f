"""Watermark markers: how event-time progress survives re-keying from input to keyed partitions.

Ingest reads N input partitions and re-keys their events by conversation into the keyed
partitions, interleaved in fetch order. A keyed partition can therefore hold hours of input
partition 0 before the first events of partition 1 (a backlog): its own newest event time says
nothing about what is still to come. So, as Kafka Streams and Flink do, ingest writes after each
batch a **marker** into every keyed partition: for each input partition it reads, that
partition's watermark (its newest event time forwarded so far minus the reorder tolerance). It
follows the events of that batch in every keyed partition, so a keyed partition that meets a
marker has seen every event it promises.

Correlate's watermark is the **minimum over all N input partitions**, and undefined until each
has reported: the slowest input holds closing back. An input partition with nothing left to
read (caught up to its high watermark) is **idle**: the ticker may then advance its watermark to
the wall clock minus the maximum delivery delay — never a busy one's.

Watermarks are epoch ms of event time, and never go back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Marker:
    """``inputs``: how many input partitions exist; ``watermarks``: those this marker speaks for."""

    inputs: int
    watermarks: dict[int, int]

    def encode(self) -> bytes:
        return orjson.dumps(
            {"inputs": self.inputs, "watermarks": {str(p): w for p, w in self.watermarks.items()}}
        )

    @classmethod
    def decode(cls, raw: bytes) -> Marker:
        return cls.from_doc(orjson.loads(raw))

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Marker:
        return cls(int(doc["inputs"]), {int(p): int(w) for p, w in doc["watermarks"].items()})


@dataclass(slots=True)
class InputProgress:
    """Ingest's side: the watermark of each input partition it reads (pure; the shell feeds it)."""

    inputs: int
    reorder_tolerance_ms: int
    watermarks: dict[int, int] = field(default_factory=dict)

    def observe(self, partition: int, event_time_ms: int) -> None:
        """An event of ``partition`` was forwarded."""
        candidate = event_time_ms - self.reorder_tolerance_ms
        if candidate > self.watermarks.get(partition, -(2**62)):
            self.watermarks[partition] = candidate

    def idle(self, partition: int, at_ms: int) -> None:
        """``partition`` has nothing left to read: nothing older than ``at_ms`` can still come."""
        if at_ms > self.watermarks.get(partition, -(2**62)):
            self.watermarks[partition] = at_ms

    def marker(self) -> Marker | None:
        return Marker(self.inputs, dict(self.watermarks)) if self.watermarks else None
