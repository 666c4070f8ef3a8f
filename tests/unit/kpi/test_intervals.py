"""Interval math: half-open, local-time aligned, tiling without gaps or overlaps, DST-safe."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvane.kpi.intervals import (
    Granularity,
    IntervalGrid,
    format_interval,
    parse_instant,
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
]
instants = st.integers(min_value=946_684_800_000, max_value=2_524_608_000_000)  # 2000 … 2050


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(list(Granularity)), st.sampled_from(ZONES))
def test_every_instant_is_in_exactly_one_interval_and_intervals_tile(
    at_ms: int, g: Granularity, tz: str
) -> None:
    grid = IntervalGrid(g, tz)
    start, end = grid.bounds(at_ms)
    assert start <= at_ms < end
    assert 0 < end - start <= g.ms
    assert grid.bounds(end)[0] == end  # the next interval starts where this one ends
    assert grid.bounds(start - 1)[1] == start  # and the previous one ends where this one starts


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(list(Granularity)), st.sampled_from(ZONES))
def test_full_length_intervals_start_on_a_local_wall_clock_boundary(
    at_ms: int, g: Granularity, tz: str
) -> None:
    start, end = IntervalGrid(g, tz).bounds(at_ms)
    if end - start == g.ms:
        local = datetime.fromtimestamp(start / 1000, ZoneInfo(tz))
        assert (local.hour * 60 + local.minute) % g.value == 0 and local.second == 0


def test_kolkata_and_kathmandu_align_differently_from_utc() -> None:
    at = parse_instant("2026-11-02T10:20:00Z")
    assert IntervalGrid(Granularity.PT60M, "UTC").start_of(at) == parse_instant("2026-11-02T10:00:00Z")
    assert IntervalGrid(Granularity.PT60M, "Asia/Kolkata").start_of(at) == parse_instant(
        "2026-11-02T09:30:00Z"
    )
    assert IntervalGrid(Granularity.PT60M, "Asia/Kathmandu").start_of(at) == parse_instant(
        "2026-11-02T10:15:00Z"
    )


def test_lord_howe_half_hour_dst_shift_cuts_the_hour_instead_of_overlapping() -> None:
    grid = IntervalGrid(Granularity.PT60M, "Australia/Lord_Howe")
    shift = parse_instant("2026-10-03T15:30:00Z")  # 02:00 local +10:30 becomes 02:30 +11:00
    before, after = grid.bounds(shift - 1), grid.bounds(shift)
    assert before == (parse_instant("2026-10-03T14:30:00Z"), shift)  # local 01:00-02:00, a full hour
    assert after == (shift, parse_instant("2026-10-03T16:00:00Z"))  # local 02:30-03:00, cut at the shift


def test_interval_strings_are_utc_with_milliseconds_and_z() -> None:
    start = int(datetime(2024, 6, 11, 10, 0, tzinfo=UTC).timestamp() * 1000)
    assert format_interval(start, start + 900_000) == "2024-06-11T10:00:00.000Z/2024-06-11T10:15:00.000Z"


def test_bad_granularity_time_zone_and_naive_instant_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="PT15M, PT30M or PT60M"):
        Granularity.parse("PT5M")
    with pytest.raises(ValueError, match="unknown IANA time zone 'Mars/Base'"):
        IntervalGrid(Granularity.PT15M, "Mars/Base")
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_instant("2026-11-02T10:00:00")
    assert Granularity.parse("PT1H") is Granularity.PT60M
