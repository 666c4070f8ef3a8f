"""Observations → one :class:`IntervalAccumulator` per (queue, media type, interval start).

The in-memory form of what the windowed tables hold; the topology will keep the same cells in
RocksDB. Interval assignment is :class:`IntervalGrid`'s (half-open, local-time aligned).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamvane.kpi.accumulator import IntervalAccumulator, Stat
from streamvane.kpi.intervals import IntervalGrid

CellKey = tuple[str, str, int]  # (queueId, mediaType, interval start ms UTC)


@dataclass(slots=True)
class IntervalAggregator:
    """Implements :class:`streamvane.kpi.correlation.Recorder` by binning into the grid."""

    grid: IntervalGrid
    cells: dict[CellKey, IntervalAccumulator] = field(default_factory=dict)
    _minute_starts: dict[int, int] = field(default_factory=dict, repr=False)

    def record(self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int) -> None:
        minute = at_ms // 60_000
        start = self._minute_starts.get(minute)
        if start is None:
            if len(self._minute_starts) > 100_000:
                self._minute_starts.clear()
            start = self._minute_starts[minute] = self.grid.start_of(at_ms)
        key = (queue_id, media_type, start)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = IntervalAccumulator()
        stat = cell.stats.get(metric)
        if stat is None:
            cell.stats[metric] = Stat(1, value, value, value)
        else:
            stat.add(value)

    def snapshot(self) -> dict[CellKey, dict[str, tuple[int, int, int, int]]]:
        """Every non-empty cell as plain tuples, in key order: the comparable truth of a run."""
        return {key: self.cells[key].snapshot() for key in sorted(self.cells) if self.cells[key].stats}
