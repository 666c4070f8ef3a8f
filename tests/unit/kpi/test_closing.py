"""Closing by event time: final after end + grace, restated within the horizon, too late after."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvane.kpi.closing import ClosingPolicy, Lateness, combined_watermark, partition_watermark
from streamvane.kpi.intervals import Granularity, IntervalGrid
from tests.support.genesys import at

policy = ClosingPolicy(grace_ms=120_000, correction_horizon_ms=3_600_000)


def test_an_interval_is_final_only_when_the_watermark_reaches_end_plus_grace() -> None:
    end = at("10:15")
    assert not policy.is_final(end, None)
    assert not policy.is_final(end, end + 119_999)
    assert policy.is_final(end, end + 120_000)


def test_late_events_restate_within_the_horizon_and_are_too_late_after_it() -> None:
    end = at("10:15")
    assert policy.classify(end, end + 60_000) is Lateness.ON_TIME
    assert policy.classify(end, end + 120_000) is Lateness.RESTATE
    assert policy.classify(end, end + 3_599_999) is Lateness.RESTATE
    assert policy.classify(end, end + 3_600_000) is Lateness.TOO_LATE


def test_due_lists_every_final_interval_in_order_and_stops_at_the_first_open_one() -> None:
    grid = IntervalGrid(Granularity.PT15M)
    due = list(policy.due(grid, at("10:00"), at("10:47") - 1))
    assert due == [(at("10:00"), at("10:15")), (at("10:15"), at("10:30"))]
    assert len(list(policy.due(grid, at("10:00"), at("10:47")))) == 3  # 10:45 + 2 min grace
    assert list(policy.due(grid, at("10:00"), None)) == []


def test_the_combined_watermark_waits_for_every_partition_and_takes_the_minimum() -> None:
    assert combined_watermark({0: 50, 1: None}, [0, 1]) is None
    assert combined_watermark({0: 50}, [0, 1]) is None
    assert combined_watermark({0: 50, 1: 20, 2: 99}, [0, 1, 2]) == 20


def test_ticks_move_an_idle_partition_forward_and_nothing_moves_a_watermark_back() -> None:
    assert partition_watermark(None, None) is None
    assert partition_watermark(None, 9_000) == 9_000
    assert partition_watermark(9_000, None, tick_ms=50_000, max_delivery_delay_ms=5_000) == 45_000
    assert partition_watermark(45_000, 20_000) == 45_000


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**13), st.integers(0, 10**13))
def test_lateness_is_monotonic_in_the_watermark(grace: int, extra: int, end: int, watermark: int) -> None:
    p = ClosingPolicy(grace, grace + extra)
    order = [Lateness.ON_TIME, Lateness.RESTATE, Lateness.TOO_LATE]
    assert order.index(p.classify(end, watermark)) <= order.index(p.classify(end, watermark + 1))


def test_a_horizon_shorter_than_the_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="correction_horizon_ms must be >= grace_ms"):
        ClosingPolicy(grace_ms=10, correction_horizon_ms=5)
