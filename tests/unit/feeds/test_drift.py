"""Routing drift, from records: traffic no profile lists, and listed queues gone quiet."""

from __future__ import annotations

from streamvane.feeds.drift import DriftFinding, SilenceTracker, drift_report, unmapped_in
from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.interval_status import IntervalStatus
from streamvane.feeds.profile import Dimension, FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord
from streamvane.web.status_page import status_html

QUARTER = 15 * 60_000
START = 1_793_606_400_000  # 2026-11-02T08:00Z
SALES, NEW = ("q-sales", "voice"), ("q-new", "voice")
PROFILE = FeedProfile(
    id="wfm",
    version=1,
    dimensions=(Dimension(queue_id="q-sales", media_type="voice"),),
    silent_after_ms=3_600_000,
)


def record(i: int, traffic: dict[tuple[str, str], int]) -> FeedRecord:
    cells = {}
    for queue, calls in traffic.items():
        acc = IntervalAccumulator()
        for _ in range(calls):
            acc.add("nOffered", 1)
        cells[queue] = acc
    return interval_record(PROFILE, START + i * QUARTER, cells, kpi=KpiConfig())


def test_traffic_on_a_queue_the_profile_does_not_list_is_unmapped_at_its_first_interval() -> None:
    assert unmapped_in(PROFILE, record(0, {SALES: 5})) == []
    assert unmapped_in(PROFILE, record(1, {SALES: 5, NEW: 3})) == [
        DriftFinding("unmapped", "wfm", "q-new", "voice", offered=3, since_ms=START + QUARTER)
    ]
    every_queue = FeedProfile(id="all", version=1)
    assert unmapped_in(every_queue, record(1, {SALES: 5, NEW: 3})) == []


def test_a_listed_queue_is_silent_once_past_its_limit_and_again_only_after_traffic_returns() -> None:
    tracker = SilenceTracker()
    found = [tracker.observe(PROFILE, record(i, {SALES: 2} if i == 0 else {NEW: 1})) for i in range(8)]
    first_silent = next(i for i, f in enumerate(found) if f)
    assert first_silent == 5, "last traffic ended 08:15; 09:30 is the first end more than 1 h later"
    assert found[first_silent] == [
        DriftFinding("silent", "wfm", "q-sales", "voice", since_ms=START + QUARTER)
    ]
    assert sum(len(f) for f in found) == 1, "reported once"
    assert tracker.silent_count("wfm") == 1
    tracker.observe(PROFILE, record(8, {SALES: 1}))
    assert tracker.silent_count("wfm") == 0


def test_the_report_over_a_range_totals_unmapped_traffic_and_names_silent_queues() -> None:
    records = [record(i, {NEW: 2} if i >= 2 else {SALES: 1}) for i in range(12)]
    report = drift_report([PROFILE], records, START, START + 12 * QUARTER)
    assert report == [
        DriftFinding("unmapped", "wfm", "q-new", "voice", offered=20, since_ms=START + 2 * QUARTER),
        DriftFinding("silent", "wfm", "q-sales", "voice", since_ms=START + 2 * QUARTER),
    ]
    assert drift_report([PROFILE], records[:4], START, START + 4 * QUARTER)[1:] == [], "not silent yet"


def test_the_status_page_lists_the_drift_of_the_intervals_it_holds() -> None:
    status = IntervalStatus()
    for i in range(12):
        status.record(record(i, {NEW: 2} if i >= 2 else {SALES: 1}))
    page = status_html([PROFILE], status, 96, {}, {}, [], START + 12 * QUARTER)
    drift = page.split("<h2>Routing drift</h2>", 1)[1]
    assert "<td>unmapped</td><td>wfm</td><td>q-new</td><td>voice</td><td>20</td>" in drift
    assert "<td>silent</td><td>wfm</td><td>q-sales</td><td>voice</td><td></td>" in drift
