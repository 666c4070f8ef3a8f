"""Which offsets may be committed: only those below the first record whose outcome is not yet
durably recorded. Records finish out of order (one lane per profile), so a commit waits for the
slowest; a restart then re-delivers the unfinished ones, with the same idempotency keys.
"""

from __future__ import annotations

import heapq


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[int, list[int]] = {}
        self._done: dict[int, set[int]] = {}
        self._high: dict[int, int] = {}
        self._finished = 0

    def started(self, partition: int, offset: int) -> None:
        heapq.heappush(self._pending.setdefault(partition, []), offset)
        self._high[partition] = max(self._high.get(partition, -1), offset)

    def finished(self, partition: int, offset: int) -> None:
        self._done.setdefault(partition, set()).add(offset)
        self._finished += 1

    @property
    def in_flight(self) -> int:
        return sum(len(h) for h in self._pending.values())

    def finished_total(self) -> int:
        """Records whose outcome is durable (for progress and benchmarks)."""
        return self._finished

    def committable(self) -> dict[int, int]:
        """partition → next offset to read after a restart, for partitions that moved on."""
        out: dict[int, int] = {}
        for partition, heap in self._pending.items():
            done = self._done.get(partition, set())
            moved = False
            while heap and heap[0] in done:
                done.discard(heapq.heappop(heap))
                moved = True
            if moved:
                out[partition] = heap[0] if heap else self._high[partition] + 1
        return out
