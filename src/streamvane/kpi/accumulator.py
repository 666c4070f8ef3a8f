"""The mergeable KPI state of one (queue, media type, interval): what the windowed tables store.

An :class:`IntervalAccumulator` maps metric names to :class:`Stat` (count, sum, min, max, all
integers; durations in ms). ``merge`` is associative and commutative with the empty accumulator
as identity, so partial aggregates from batches, partitions or 15-minute base intervals combine
in any order into the same result. It knows nothing of events: de-duplication happens before a
value is added (:mod:`streamvane.kpi.correlation`).

A few observations are **provisional**: a session's handle placed at user.end because no acw
has come yet may move to the acw's interval later. Min and max cannot be un-merged, so those
values are kept as a multiset (value → multiplicity) beside the stats, and a retraction is a
multiplicity of −1. :meth:`IntervalAccumulator.snapshot` folds them into the stats; deltas may
hold negative multiplicities until they meet the observation they retract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


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
    provisional: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, metric: str, value: int) -> None:
        stat = self.stats.get(metric)
        if stat is None:
            stat = self.stats[metric] = Stat()
        stat.add(value)

    def add_provisional(self, metric: str, value: int, multiplicity: int) -> None:
        """Add (+1) or retract (−1) a provisional observation."""
        values = self.provisional.get(metric)
        if values is None:
            values = self.provisional[metric] = {}
        n = values.get(value, 0) + multiplicity
        if n:
            values[value] = n
        else:
            del values[value]
            if not values:
                del self.provisional[metric]

    def count(self, metric: str) -> int:
        stat = self.stats.get(metric)
        values = self.provisional.get(metric)
        return (stat.count if stat else 0) + (sum(values.values()) if values else 0)

    def merged(self, other: IntervalAccumulator) -> IntervalAccumulator:
        out = {name: Stat(*stat.as_tuple()) for name, stat in self.stats.items()}
        for name, stat in other.stats.items():
            mine = out.get(name)
            out[name] = mine.merged(stat) if mine else Stat(*stat.as_tuple())
        merged = IntervalAccumulator(out, {name: dict(values) for name, values in self.provisional.items()})
        for name, values in other.provisional.items():
            for value, n in values.items():
                merged.add_provisional(name, value, n)
        return merged

    def snapshot(self) -> dict[str, tuple[int, int, int, int]]:
        """A plain, comparable, serialisable view: metric → (count, sum, min, max), sorted.

        Provisional observations are included as if they were final.
        """
        stats = self.stats
        if self.provisional:
            stats = {name: Stat(*stat.as_tuple()) for name, stat in stats.items()}
            for name, values in self.provisional.items():
                stat = stats.get(name)
                if stat is None:
                    stat = stats[name] = Stat()
                for value, n in values.items():
                    for _ in range(n):
                        stat.add(value)
                    if n < 0:
                        stat.count += n
                        stat.sum += value * n
        return {name: stats[name].as_tuple() for name in sorted(stats) if stats[name].count}

    def state(self) -> dict[str, dict[str, list[int]] | dict[str, list[list[int]]]]:
        """Everything, including which observations are provisional (``from_state`` restores it)."""
        out: dict[str, dict[str, list[int]] | dict[str, list[list[int]]]] = {
            "stats": {name: list(stat.as_tuple()) for name, stat in sorted(self.stats.items()) if stat.count}
        }
        if self.provisional:
            out["provisional"] = {
                name: sorted([v, n] for v, n in values.items()) for name, values in self.provisional.items()
            }
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> IntervalAccumulator:
        acc = cls.from_snapshot(state["stats"])
        for name, values in state.get("provisional", {}).items():
            acc.provisional[name] = {v: n for v, n in values}
        return acc

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Iterable[int]]) -> IntervalAccumulator:
        return cls({name: Stat(*values) for name, values in snapshot.items()})


def merge_all(accumulators: Iterable[IntervalAccumulator]) -> IntervalAccumulator:
    """Fold any number of accumulators (the empty fold is the empty accumulator)."""
    total = IntervalAccumulator()
    for acc in accumulators:
        total = total.merged(acc)
    return total
