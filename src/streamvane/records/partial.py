"""A partition's partial of one base interval: what each source partition contributes to a feed
record. Internal (JSON on an internal topic); the assembler merges the partials of every source
partition into the profile's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from streamvane.kpi.accumulator import IntervalAccumulator

Snapshot = dict[str, tuple[int, int, int, int]]


@dataclass(frozen=True, slots=True)
class Partial:
    partition: int
    base_start_ms: int
    base_end_ms: int
    revision: int
    watermark_ms: int
    cells: dict[tuple[str, str], Snapshot]

    @property
    def key(self) -> str:
        """Compaction key on the partials topic: one live partial per interval and partition."""
        return f"{self.base_start_ms:015d}|{self.partition}"

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "partition": self.partition,
                "base_start_ms": self.base_start_ms,
                "base_end_ms": self.base_end_ms,
                "revision": self.revision,
                "watermark_ms": self.watermark_ms,
                "cells": [[q, m, snap] for (q, m), snap in sorted(self.cells.items())],
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Partial:
        doc: dict[str, Any] = orjson.loads(data)
        cells = {(q, m): {k: tuple(v) for k, v in snap.items()} for q, m, snap in doc["cells"]}
        return cls(
            doc["partition"],
            doc["base_start_ms"],
            doc["base_end_ms"],
            doc["revision"],
            doc["watermark_ms"],
            cells,
        )


def merged_cells(
    parts: Iterable[Mapping[tuple[str, str], Snapshot]],
) -> dict[tuple[str, str], IntervalAccumulator]:
    """(queue, media) → one accumulator merging every part's cell (the base intervals and source
    partitions that make up a profile interval)."""
    cells: dict[tuple[str, str], IntervalAccumulator] = {}
    for part in parts:
        for dim, snapshot in part.items():
            acc = IntervalAccumulator.from_snapshot(snapshot)
            cells[dim] = cells[dim].merged(acc) if dim in cells else acc
    return cells
