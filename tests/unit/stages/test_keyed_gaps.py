"""A keyed record the consumer skipped is never silently passed over: the stage stops before the
gap, says where to read again, and a re-read gives the result of an uninterrupted run."""

from __future__ import annotations

from streamvane.genesys.parse import EventParser
from streamvane.kpi.config import KpiConfig
from streamvane.stages.bundles import decode
from streamvane.stages.correlate import BundleItem, PartitionProcessor, ProcessorConfig, TickItem
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.stages.plan import base_grid, closing_policy
from streamvane.stages.store import DictStore
from tests.support.expectations import late_offer

T0 = 1_800_000_000_000 // 900_000 * 900_000


def bundles(count: int) -> list[BundleItem]:
    """``count`` keyed records (one offer each) of a one-partition keyed topic, offsets 0.."""
    ingest = IngestStage(EventParser(), 1, InputProgress(1, 30_000), "events", markers=False)
    out = []
    for i in range(count):
        [(_, raw)] = ingest.process(
            [SourceRecord(late_offer(T0 + i * 60_000, "q", f"c-{i}"), None, 0, i, None)], 2**62
        ).bundles
        out.append(BundleItem(i, decode(raw)))
    return out


def processor(store: DictStore) -> PartitionProcessor:
    config = ProcessorConfig(KpiConfig(), base_grid(), closing_policy(()), T0, 60_000, 0)
    return PartitionProcessor(config, store)


def test_a_skipped_record_stops_the_batch_before_it_and_is_read_again() -> None:
    items = bundles(5)
    clean, gapped = DictStore(), DictStore()
    whole = processor(clean).process([*items, TickItem(T0 + 3 * 3_600_000, 5)])
    assert whole.gap_from is None and whole.applied == 5

    first = processor(gapped).process([items[0], items[1], items[3], items[4]])
    assert (first.gap_from, first.applied) == (2, 2), "nothing after the gap is applied"
    again = processor(gapped).process([items[3]])
    assert (again.gap_from, again.applied) == (2, 0), "still waiting for the skipped record"
    rest = processor(gapped).process([*items[2:], TickItem(T0 + 3 * 3_600_000, 5)])
    assert (rest.gap_from, rest.applied) == (None, 3)
    assert [p.cells for p in rest.partials] == [p.cells for p in whole.partials[len(first.partials) :]]
    assert {k: v for k, v in gapped.data.items() if k != "m"} == {
        k: v for k, v in clean.data.items() if k != "m"
    }


def test_the_first_record_must_be_the_first_still_held() -> None:
    items = bundles(3)
    store = DictStore()
    assert processor(store).process(items[1:]).gap_from == 0
    assert processor(store).process(items[1:], earliest_offset=1).gap_from is None, (
        "records before the earliest one held are gone (retention): start there"
    )


def test_redelivered_records_before_the_next_expected_are_skipped_not_gaps() -> None:
    items = bundles(3)
    store = DictStore()
    processor(store).process(items)
    again = processor(store).process([*items, TickItem(T0, 3)])
    assert (again.gap_from, again.applied, again.redelivered) == (None, 0, 3)
