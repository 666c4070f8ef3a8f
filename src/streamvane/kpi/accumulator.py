"""The mergeable KPI state of one (queue, media type, interval): what the windowed tables store.

An :class:`IntervalAccumulator` maps metric names to :class:`Stat` (count, sum, min, max, all
integers; durations in ms). ``merge`` is associative and commutative with the empty accumulator
as identity, so partial aggregates from batches, partitions or 15-minute base intervals combine
in any order into the same result. It knows nothing of events: de-duplication happens before a
value is added (:mod:`streamvane.kpi.correlation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Stat:
    """Count, sum, min and max of the values of one metric; ``min``/``max`` are 0 while empty."""

    count: int = 0
    sum: int = 0
    min: int = 0
    max: int = 0

    def add(self, value: int) -> None:
        if self.count == 0:
            self.min = self.max = value
        else:
            if value < self.min:
                self.min = value
            if value > self.max:
                self.max = value
        self.count += 1
        self.sum += value

    def merged(self, other: Stat) -> Stat:
        if other.count == 0:
            return Stat(self.count, self.sum, self.min, self.max)
        if self.count == 0:
            return Stat(other.count, other.sum, other.min, other.max)
        return Stat(
            self.count + other.count,
            self.sum + other.sum,
            min(self.min, other.min),
            max(self.max, other.max),
        )

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.count, self.sum, self.min, self.max)


@dataclass(slots=True)
class IntervalAccumulator:
    """Per-metric stats for one (queue, media, interval). Metrics with no data are absent."""

    stats: dict[str, Stat] = field(default_factory=dict)

    def add(self, metric: str, value: int) -> None:
        stat = self.stats.get(metric)
        if stat is None:
            stat = self.stats[metric] = Stat()
        stat.add(value)

    def count(self, metric: str) -> int:
        stat = self.stats.get(metric)
        return stat.count if stat else 0

    def merged(self, other: IntervalAccumulator) -> IntervalAccumulator:
        out = {name: Stat(*stat.as_tuple()) for name, stat in self.stats.items()}
        for name, stat in other.stats.items():
            mine = out.get(name)
            out[name] = mine.merged(stat) if mine else Stat(*stat.as_tuple())
        return IntervalAccumulator(out)

    def snapshot(self) -> dict[str, tuple[int, int, int, int]]:
        """A plain, comparable, serialisable view: metric → (count, sum, min, max), sorted."""
        return {name: self.stats[name].as_tuple() for name in sorted(self.stats) if self.stats[name].count}

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Iterable[int]]) -> IntervalAccumulator:
        return cls({name: Stat(*values) for name, values in snapshot.items()})


def merge_all(accumulators: Iterable[IntervalAccumulator]) -> IntervalAccumulator:
    """Fold any number of accumulators (the empty fold is the empty accumulator)."""
    total = IntervalAccumulator()
    for acc in accumulators:
        total = total.merged(acc)
    return total
