"""Specification: the numbers do not depend on how EventBridge delivers — any order, redelivery
within its 24-hour retry window, long digital waits, a wrong clock.

Each case compares `compute` on the messy delivery with the same events delivered cleanly (or with
the simulator's ground truth, computed from its facts rather than its events).
"""

from __future__ import annotations

import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth
from tests.support.genesys import Conversation, at

NOW = at("23:59", "2026-12-31")
HOUR = 3_600_000


Cells = dict[tuple[str, str, int], dict[str, tuple[int, int, int, int]]]


def cells(lines: list[bytes], config: KpiConfig | None = None, received_ms: int = NOW) -> Cells:
    aggregator, _ = compute(lines, IntervalGrid(Granularity.PT15M), config or KpiConfig(), received_ms)
    return aggregator.snapshot()


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    granularity=st.sampled_from(list(Granularity)),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"]),
    duplicate_rate=st.sampled_from([0.0, 0.05]),
)
def test_a_full_random_permutation_of_a_day_equals_the_ground_truth(
    seed: int, granularity: Granularity, tz: str, duplicate_rate: float
) -> None:
    spec = SimulationSpec(agents=15, hours=2, seed=seed, duplicate_rate=duplicate_rate)
    conversations = simulate(spec)
    lines = [line for _, line in delivery(spec, conversations)]
    random.Random(seed).shuffle(lines)
    grid = IntervalGrid(granularity, tz)
    computed, report = compute(lines, grid, KpiConfig(), NOW)
    assert computed.snapshot() == ground_truth(conversations, grid, KpiConfig()).snapshot()
    assert report.rejected == {}
    unpaired = ("acd_start_unmatched", "acd_end_without_start", "acw_without_user_end", "acw_after_horizon")
    assert all(getattr(report.correlation, name) == 0 for name in unpaired)


def test_an_acd_end_hours_before_its_start_is_still_paired_where_genesys_puts_it() -> None:
    c = Conversation()
    c.queue("q", at("09:00"), at("09:00:30"))
    start, end = c.lines()
    filler = [_ignored_at(at(f"{h:02d}:00")) for h in range(10, 15)]  # five hours pass in between
    late_start = cells([end, *filler, start])
    assert late_start == cells([start, end])
    assert late_start == {
        ("q", "voice", at("09:00")): {
            "nOffered": (1, 1, 1, 1),
            "tAnswered": (1, 30_000, 30_000, 30_000),
            "nOverSla": (1, 1, 1, 1),
            "tWait": (1, 30_000, 30_000, 30_000),
        }
    }


def test_a_conversation_redelivered_20_hours_later_counts_once() -> None:
    c = Conversation()
    c.queue("q", at("09:00"), at("09:00:15"))
    c.agent("q", ended=at("09:05"), talk_ms=280_000, acw_at=at("09:06"), wrapup_ms=60_000)
    later = Conversation()
    later.queue("q", at("05:00", "2026-11-03"), at("05:00:10", "2026-11-03"))  # 20 h of event time
    once = cells([*c.lines(), *later.lines()])
    assert cells([*c.lines(), *later.lines(), *c.lines()]) == once
    assert once[("q", "voice", at("09:00"))]["nOffered"] == (1, 1, 1, 1)


def test_an_email_answered_after_three_days_in_queue_keeps_its_answer() -> None:
    email = Conversation(media="EMAIL")
    email.queue("inbox", at("09:00"), at("09:00", "2026-11-05"))
    result = cells(email.lines())
    three_days = 3 * 24 * HOUR
    assert result[("inbox", "email", at("09:00", "2026-11-05"))]["tAnswered"] == (1, *[three_days] * 3)
    chat = Conversation(media="CHAT")  # no chat waits three days: an implausible pair, reported
    chat.queue("web", at("09:00"), at("09:00", "2026-11-05"))
    for lines in (chat.lines(), chat.lines()[::-1]):
        aggregator, report = compute(lines, IntervalGrid(Granularity.PT15M), KpiConfig(), NOW)
        assert report.correlation.wait_over_limit == 1
        assert aggregator.snapshot() == {("web", "chat", at("09:00")): {"nOffered": (1, 1, 1, 1)}}


def test_an_event_from_a_clock_a_day_ahead_changes_nothing() -> None:
    c = Conversation()
    c.queue("q", at("09:00"), at("09:00:10"))
    start, end = c.lines()
    wrong_clock = Conversation()
    wrong_clock.queue("other", NOW + 23 * HOUR, None)
    aggregator, report = compute(
        [start, *wrong_clock.lines(), end], IntervalGrid(Granularity.PT15M), KpiConfig(), NOW
    )
    assert aggregator.snapshot() == cells([start, end])
    assert report.rejected == {"clock-skew": 1}


def test_the_envelope_time_bounds_a_file_received_long_ago() -> None:
    """A file exported days ago: its lines' EventBridge times, not today's clock, are the bound."""
    c = Conversation()
    c.queue("q", at("09:00"), at("09:00:10"))
    lines = c.lines()
    stamped = []
    for line in lines:
        doc = orjson.loads(line)
        doc["time"] = "2026-11-02T09:00:10Z"
        stamped.append(orjson.dumps(doc))
    ahead = orjson.loads(stamped[0])
    ahead["detail"]["eventBody"]["eventTime"] = at("15:00")  # six hours after EventBridge got it
    _, report = compute([*stamped, orjson.dumps(ahead)], IntervalGrid(Granularity.PT15M), KpiConfig(), NOW)
    assert report.rejected == {"clock-skew": 1}


def test_a_wrap_up_longer_than_the_acw_grace_moves_the_handle_and_restates_what_it_left() -> None:
    c = Conversation()
    c.agent("q", ended=at("10:05"), talk_ms=300_000, held_ms=30_000, acw_at=at("10:50"), wrapup_ms=2_700_000)
    user_end, acw = c.lines()
    passing = [_ignored_at(at("10:30"))]  # the acw grace (15 min) passes before the acw arrives
    result = cells([user_end, *passing, acw])
    assert result == cells([user_end, acw])
    assert "tHandle" not in result[("q", "voice", at("10:00"))]
    assert result[("q", "voice", at("10:45"))]["tHandle"] == (1, 3_030_000, 3_030_000, 3_030_000)


def test_ten_minute_reorder_and_duplicates_match_the_ground_truth_in_every_stat() -> None:
    spec = SimulationSpec(agents=60, hours=2, seed=11, reorder_ms=600_000, duplicate_rate=0.02)
    conversations = simulate(spec)
    lines = [line for _, line in delivery(spec, conversations)]
    grid = IntervalGrid(Granularity.PT15M)
    computed, report = compute(lines, grid, KpiConfig(), NOW)
    assert computed.snapshot() == ground_truth(conversations, grid, KpiConfig()).snapshot()
    assert report.correlation.duplicates > 0


def _ignored_at(time_ms: int) -> bytes:
    """A customer.start of an unrelated conversation: moves event time on, changes no number."""
    c = Conversation()
    c.events.append(("customer.start", c._body("cust", time_ms)))
    return c.lines()[0]
