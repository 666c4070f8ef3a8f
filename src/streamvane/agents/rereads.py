"""When to seek a keyed partition back to a record the consumer skipped.

A seek does not take effect at once: records fetched before it keep arriving, every batch of them
reporting the same gap, and those must not seek again. But a seek can also be undone: a rebalance
seeks the partition to its committed offset, which can lie past the gap (the consumer commits the
first run of acknowledged offsets, whether or not it follows the skipped one), and then the gap
would stay for good while the partition is read on, nothing applied and nothing said.

So a pending seek is trusted only while the batches continue past every offset delivered since it
was asked for, and for :data:`PATIENCE_S` seconds. A batch that starts at or before those offsets
(a read started over somewhere else), or a gap older than the patience, seeks again. Seeking again
is harmless: records already applied come back and are recognised as redeliveries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PATIENCE_S = 10.0


@dataclass(slots=True)
class _Pending:
    gap_from: int
    delivered_to: int
    asked_at_s: float


class Rereads:
    """Per keyed partition, the seek asked for and not yet seen to take effect. ``clock``:
    monotonic seconds."""

    def __init__(self, clock: Callable[[], float], patience_s: float = PATIENCE_S) -> None:
        self._clock = clock
        self._patience_s = patience_s
        self._pending: dict[int, _Pending] = {}

    def should_seek(self, partition: int, gap_from: int, first_offset: int, last_offset: int) -> bool:
        """A batch of ``partition`` (offsets ``first_offset``..``last_offset``) stopped at a gap
        before ``gap_from``: whether to seek there now."""
        now = self._clock()
        pending = self._pending.get(partition)
        if (
            pending is None
            or pending.gap_from != gap_from
            or first_offset <= pending.delivered_to
            or now - pending.asked_at_s >= self._patience_s
        ):
            self._pending[partition] = _Pending(gap_from, last_offset, now)
            return True
        pending.delivered_to = max(pending.delivered_to, last_offset)
        return False

    def clear(self, partition: int) -> None:
        """No seek of ``partition`` is pending any more: a batch was applied without a gap, or
        the seek was not made."""
        self._pending.pop(partition, None)
