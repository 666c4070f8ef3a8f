"""A partition's open cells: what one source partition has counted so far in the base intervals
it has not closed yet, for provisional updates. Internal (JSON on the partials topic, beside the
partials, under the key ``open|<partition>``); each replaces the partition's previous one.

``as_of_ms`` is the partition's event clock when it was read: the newest event time it had
applied, or its last wall-clock tick if that is later (epoch ms UTC); None before it has applied
either (it has nothing open, and no clock). Cells are the same
snapshots as a :class:`~streamvane.records.partial.Partial`'s, per base interval start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from streamvane.records.partial import Snapshot

KEY_PREFIX = "open|"


@dataclass(frozen=True, slots=True)
class OpenCells:
    partition: int
    as_of_ms: int | None
    intervals: dict[int, dict[tuple[str, str], Snapshot]]

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.partition}"

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "kind": "open-cells",
                "partition": self.partition,
                "as_of_ms": self.as_of_ms,
                "intervals": [
                    [start, [[q, m, snap] for (q, m), snap in sorted(cells.items())]]
                    for start, cells in sorted(self.intervals.items())
                ],
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> OpenCells:
        doc: dict[str, Any] = orjson.loads(data)
        intervals = {
            int(start): {(q, m): {k: tuple(v) for k, v in snap.items()} for q, m, snap in cells}
            for start, cells in doc["intervals"]
        }
        return cls(doc["partition"], doc["as_of_ms"], intervals)


def is_open_cells(key: bytes | None) -> bool:
    """Whether a partials-topic record is a partition's open cells rather than a partial."""
    return key is not None and key.startswith(KEY_PREFIX.encode())
