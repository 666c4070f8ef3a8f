"""Provisional updates: the assembler's view of the intervals still open, and when an update of
one is due (pure; the shell feeds it open cells and publishes what :meth:`ProvisionalBoard.due`
returns).

Event time drives it. The clock is the newest ``as_of_ms`` any source partition's open cells
reported (live, that is wall time; a sped-up simulation runs it faster). Update k of a profile's
interval ``[start, end)`` is due once the clock reaches ``start + k × every_ms``; when the clock has
jumped past several, only the latest goes. Updates run from k = 1 until the interval's final is
emitted, or the clock passes its end plus the correction horizon (a final that late is a fault
the status page shows; updates would only repeat themselves).

An update's content, per base interval and source partition: the partial the assembler holds
(that partition closed it), else the partition's latest open cells of it, else nothing (the
partition has counted nothing there). No update goes before every partition has reported open
cells once, so none shows a partition missing. Kept in memory only: open cells come again every
few seconds, and after a restart the first updates wait for them.

Updates are for live data: with ``max_lag_ms``, none goes while the event clock is further than
that behind the wall clock (a backlog being caught up, history recomputed); those intervals get
their finals only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile
from streamvane.records.feed_record import FeedRecord
from streamvane.records.open_cells import OpenCells
from streamvane.records.partial import Partial, Snapshot, merged_cells
from streamvane.records.rollup import base_starts
from streamvane.stages.assemble import AssemblerConfig, emitted_key, partial_key
from streamvane.stages.store import Store


@dataclass(slots=True)
class ProvisionalBoard:
    config: AssemblerConfig
    max_lag_ms: int | None = None
    clock_ms: int | None = None
    _cells: dict[tuple[int, int], dict[tuple[str, str], Snapshot]] = field(default_factory=dict)
    _reported: set[int] = field(default_factory=set)
    _sent: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def profiles(self) -> tuple[FeedProfile, ...]:
        return tuple(p for p in self.config.profiles if p.provisional is not None)

    def observe(self, cells: OpenCells) -> None:
        """A partition's open cells: they replace what it reported before for those base
        intervals (one it closed since stays until its partial is here; the partial wins)."""
        for start, snapshot in cells.intervals.items():
            self._cells[(start, cells.partition)] = snapshot
        self._reported.add(cells.partition)
        if cells.as_of_ms is not None:
            self.clock_ms = max(self.clock_ms or cells.as_of_ms, cells.as_of_ms)

    def due(self, store: Store, wall_ms: int | None = None) -> list[FeedRecord]:
        """The updates due at the clock, given the assembler's committed ``store`` (its partials
        and which intervals it emitted) and the wall clock (epoch ms; needed with ``max_lag_ms``).
        Each is returned once."""
        clock = self.clock_ms
        if clock is None or len(self._reported) < self.config.partitions:
            return []
        if self.max_lag_ms is not None and (wall_ms is None or wall_ms - clock > self.max_lag_ms):
            return []
        out: list[FeedRecord] = []
        oldest = clock
        for profile in self.profiles:
            every = profile.provisional_every_ms
            assert every is not None
            grid = profile.grid()
            start = grid.start_of(clock - profile.correction_horizon_ms - grid.granularity.ms)
            oldest = min(oldest, start)
            while start <= clock:
                end = grid.next_start(start)
                number = (clock - start) // every
                if (
                    start >= self.config.start_ms
                    and clock < end + profile.correction_horizon_ms
                    and number > self._sent.get((profile.id, start), 0)
                    and store.get(emitted_key(profile.id, start)) is None
                ):
                    self._sent[(profile.id, start)] = number
                    out.append(self._update(profile, start, end, number, store))
                start = end
        self._forget_before(oldest)
        return out

    def _update(self, profile: FeedProfile, start: int, end: int, number: int, store: Store) -> FeedRecord:
        parts = []
        for base_start in base_starts(self.config.base, start, end):
            for partition in range(self.config.partitions):
                raw = store.get(partial_key(base_start, partition))  # closed: its partial wins
                parts.append(
                    Partial.decode(raw).cells if raw else self._cells.get((base_start, partition), {})
                )
        return interval_record(profile, start, merged_cells(parts), kpi=self.config.kpi, provisional=number)

    def _forget_before(self, start_ms: int) -> None:
        for key in [k for k in self._cells if k[0] < start_ms]:
            del self._cells[key]
        for sent in [k for k in self._sent if k[1] < start_ms]:
            del self._sent[sent]
