"""Applying a keyed partition's batch when the consumer skipped records before it.

faust-streaming drops a fetched record whose delivery a rebalance suspends, and then commits
past it; a seek back does not help while records fetched before it are still arriving (they move
Faust's read position past the ones read again). So the records missing before a batch are read
directly from the topic (``read``, no group) and applied ahead of it, a hole at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from streamvane.stages.correlate import BatchResult, Item

MAX_FILLS = 5  # holes filled per partition and batch before the caller falls back to a seek


async def apply_filling_gaps(
    process: Callable[[list[Item]], BatchResult],
    batch: list[Item],
    read: Callable[[int, int], Awaitable[list[Item]]],
    max_fills: int = MAX_FILLS,
) -> list[BatchResult]:
    """``process`` the batch; while it stops at a gap, ``read(from, to)`` the missing offsets
    ``[from, to)`` (``to``: the batch's next record after the gap) and process them with the batch
    again (what was applied is skipped as redelivered). Every call's result, in order; the last
    one's ``gap_from`` is what could not be filled."""
    results = [process(batch)]
    for _ in range(max_fills):
        gap = results[-1].gap_from
        if gap is None:
            break
        end = next((i.offset for i in batch if i.offset is not None and i.offset > gap), None)
        if end is None:
            break
        missing = await read(gap, end)
        if not missing or missing[0].offset != gap:
            break
        results.append(process(missing + batch))
    return results
