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
        start = self._minute_starts.get(at_ms // 60_000)  # the hot path: _cell, inlined
        cell = self.cells.get((queue_id, media_type, start)) if start is not None else None
        if cell is None:
            cell = self._cell(queue_id, media_type, at_ms)
        stat = cell.stats.get(metric)
        if stat is None:
            cell.stats[metric] = Stat(1, value, value, value)
        else:
            stat.add(value)

    def record_provisional(
        self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int, multiplicity: int
    ) -> None:
        self._cell(queue_id, media_type, at_ms).add_provisional(metric, value, multiplicity)

    def _cell(self, queue_id: str, media_type: str, at_ms: int) -> IntervalAccumulator:
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
        return cell

    def snapshot(self) -> dict[CellKey, dict[str, tuple[int, int, int, int]]]:
        """Every non-empty cell as plain tuples, in key order: the comparable truth of a run."""
        snapshots = {key: self.cells[key].snapshot() for key in sorted(self.cells)}
        return {key: snap for key, snap in snapshots.items() if snap}
