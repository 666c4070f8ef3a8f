"""Base intervals → a profile's cadence. The tables hold accumulators at the base granularity
(PT15M on UTC quarter hours); a PT30M or PT60M profile interval in any zone whose offsets are
whole quarter hours is an exact union of base intervals, so its accumulator is their merge.
"""

from __future__ import annotations

from collections.abc import Mapping

from streamvane.errors import InputError
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.aggregate import CellKey
from streamvane.kpi.intervals import IntervalGrid


class MisalignedBaseError(InputError):
    """A base interval straddles a profile interval boundary (zone offset not a quarter hour)."""


def base_starts(base: IntervalGrid, start_ms: int, end_ms: int) -> list[int]:
    """The base intervals that make up ``[start_ms, end_ms)``; they must tile it exactly."""
    starts = base.starts_between(start_ms, end_ms)
    if not starts or starts[0] != start_ms or base.next_start(starts[-1]) != end_ms:
        raise MisalignedBaseError(f"base grid does not tile [{start_ms}, {end_ms})")
    return starts


def rollup(
    cells: Mapping[CellKey, IntervalAccumulator], base: IntervalGrid, start_ms: int, end_ms: int
) -> dict[tuple[str, str], IntervalAccumulator]:
    """(queue, media) → merged accumulator over the profile interval ``[start_ms, end_ms)``."""
    wanted = set(base_starts(base, start_ms, end_ms))
    out: dict[tuple[str, str], IntervalAccumulator] = {}
    for (queue, media, start), acc in cells.items():
        if start in wanted:
            key = (queue, media)
            current = out.get(key)
            out[key] = acc if current is None else current.merged(acc)
    return out
