"""The assembler: partials of every source partition in, one record per profile interval out;
a re-assembly restates only when the content changed."""

from __future__ import annotations

from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.records.partial import Partial
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.store import DictStore
from tests.support.genesys import at

PROFILE = FeedProfile(id="wfm", version=1, grace_ms=0, correction_horizon_ms=3_600_000)
BASE = IntervalGrid(Granularity.PT15M)


def partial(partition: int, revision: int, offered: int, watermark: str = "10:20") -> Partial:
    cells = {("q", "voice"): {"nOffered": (offered, offered, 1, 1)}} if offered else {}
    return Partial(partition, at("10:00"), at("10:15"), revision, at(watermark), cells)


def assembler() -> Assembler:
    return Assembler(AssemblerConfig((PROFILE,), KpiConfig(), BASE, 2, at("10:00")), DictStore())


def test_an_interval_is_emitted_once_every_partition_reported_and_the_watermark_passed_it() -> None:
    a = assembler()
    assert a.accept_batch([partial(0, 1, 3)]) == [], "partition 1 has not reported"
    [record] = a.accept_batch([partial(1, 1, 2)])
    assert (record.interval_start_ms, record.revision, record.event_count) == (at("10:00"), 1, 5)


def test_an_identical_re_assembly_is_not_a_new_revision_and_a_changed_one_is() -> None:
    a = assembler()
    a.accept_batch([partial(0, 1, 3), partial(1, 1, 2)])
    assert a.accept_batch([partial(0, 2, 3, watermark="10:40")]) == [], (
        "same content, higher partial revision"
    )
    [restated] = a.accept_batch([partial(1, 2, 4, watermark="10:40")])
    assert (restated.revision, restated.event_count) == (2, 7)
    assert a.accept_batch([partial(1, 3, 4, watermark="10:50")]) == []


def test_a_batch_ending_inside_a_longer_interval_never_loses_the_partials_it_still_needs() -> None:
    """A close-backfill tick jumps the watermark far past the correction horizon. The partials
    of 10:00 arrive in one batch, those of 10:15 in the next: the 15-minute profile emits 10:00
    at once, and the 30-minute one must still find 10:00's partials when 10:15's arrive."""
    half_hour = FeedProfile(
        id="half", version=1, cadence="PT30M", grace_ms=0, correction_horizon_ms=3_600_000
    )
    a = Assembler(AssemblerConfig((PROFILE, half_hour), KpiConfig(), BASE, 1, at("10:00")), DictStore())

    def base(start: str, end: str) -> Partial:
        cells = {("q", "voice"): {"nOffered": (2, 2, 1, 1)}}
        return Partial(0, at(start), at(end), 1, at("16:00"), cells)

    first = a.accept_batch([base("10:00", "10:15")])
    assert [(r.profile_id, r.interval_start_ms) for r in first] == [("wfm", at("10:00"))]
    second = a.accept_batch([base("10:15", "10:30")])
    assert [(r.profile_id, r.interval_start_ms, r.event_count) for r in second] == [
        ("wfm", at("10:15"), 2),
        ("half", at("10:00"), 4),
    ]
