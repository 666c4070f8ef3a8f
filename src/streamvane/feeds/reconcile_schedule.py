"""Which delivered intervals are ready to be reconciled: continuous reconciliation's plan.

An interval is reconciled once Genesys' figures have settled: at its scheduled close (end +
grace) plus the settle delay, in epoch ms. Only the latest revision of an interval is judged: a
restatement that arrives while an earlier revision waits replaces it, and the replaced one is
handed back so its reader can mark it finished without a query. Pure: the caller supplies the
clock and a position (where the record was read) to hand back.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from streamvane.records.feed_record import FeedRecord

P = TypeVar("P")


@dataclass
class ReconcileSchedule(Generic[P]):
    settle_ms: int
    _waiting: dict[str, tuple[FeedRecord, P, int]] = field(default_factory=dict)
    _heap: list[tuple[int, str]] = field(default_factory=list)

    def add(self, record: FeedRecord, position: P, grace_ms: int) -> P | None:
        """Schedule ``record``; returns the position of the revision it replaces, if any (a
        lower revision arriving late is itself returned: it is never judged)."""
        return self.at(record, position, record.interval_end_ms + grace_ms + self.settle_ms)

    def at(self, record: FeedRecord, position: P, due_ms: int) -> P | None:
        """Schedule ``record`` for ``due_ms`` (a retry after a failed query), as :meth:`add`."""
        key = record.compaction_key
        known = self._waiting.get(key)
        if known is not None and known[0].revision > record.revision:
            return position
        self._waiting[key] = (record, position, due_ms)
        heapq.heappush(self._heap, (due_ms, key))
        return known[1] if known is not None else None

    def due(self, now_ms: int) -> list[tuple[FeedRecord, P]]:
        """Every waiting record due by ``now_ms``, removed, ordered by profile and interval."""
        out = []
        while self._heap and self._heap[0][0] <= now_ms:
            due, key = heapq.heappop(self._heap)
            found = self._waiting.get(key)
            if found is not None and found[2] == due:
                del self._waiting[key]
                out.append((found[0], found[1]))
        return sorted(out, key=lambda item: (item[0].profile_id, item[0].interval_start_ms))

    def next_due_ms(self) -> int | None:
        while self._heap and self._heap[0][1] not in self._waiting:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._waiting)
