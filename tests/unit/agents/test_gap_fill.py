"""Records the consumer skipped before a batch are read directly and applied first: the result
is the one of an uninterrupted run, a hole at a time; what cannot be read is left to a seek."""

from __future__ import annotations

from streamvane.agents.gap_fill import apply_filling_gaps
from streamvane.stages.correlate import Item, TickItem
from streamvane.stages.store import DictStore
from tests.unit.stages.test_keyed_gaps import T0, bundles, processor


async def test_two_holes_are_read_and_the_state_is_that_of_an_uninterrupted_run() -> None:
    items: list[Item] = [*bundles(7), TickItem(T0 + 3 * 3_600_000, 7)]
    clean, gapped = DictStore(), DictStore()
    whole = processor(clean).process(items)
    reads: list[tuple[int, int]] = []

    async def read(start: int, end: int) -> list[Item]:
        reads.append((start, end))
        return items[start:end]

    batch = [items[0], items[3], items[4], items[6], items[7]]  # 1-2 and 5 were skipped
    stage = processor(gapped)
    results = await apply_filling_gaps(stage.process, batch, read)
    assert reads == [(1, 3), (5, 6)]
    assert results[-1].gap_from is None
    assert sum(r.applied for r in results) == whole.applied == 7
    assert {k: v for k, v in gapped.data.items() if k != "m"} == {
        k: v for k, v in clean.data.items() if k != "m"
    }


async def test_records_no_longer_held_leave_the_gap_for_the_caller() -> None:
    items = bundles(4)

    async def nothing(start: int, end: int) -> list[Item]:
        return []

    results = await apply_filling_gaps(processor(DictStore()).process, [items[0], items[3]], nothing)
    assert [r.gap_from for r in results] == [1]
