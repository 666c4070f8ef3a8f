"""Specification by example: hand-written Genesys conversations in, the exact KPI values out.

Stats are (count, sum, min, max) with durations in ms; every metric lands in the interval of its
own event time (Genesys' emit-time rule).
"""

from __future__ import annotations

import random
from typing import Any

from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.compute import ComputeReport, compute
from streamvane.kpi.config import KpiConfig, QueueServiceLevel
from streamvane.kpi.intervals import Granularity, IntervalGrid
from tests.support.genesys import Conversation, at, lines_of

Cells = dict[tuple[str, str, int], dict[str, tuple[int, int, int, int]]]
NOW = at("23:59", "2026-12-31")


def run(
    lines: list[bytes], granularity: str = "PT15M", tz: str = "UTC", config: KpiConfig | None = None
) -> tuple[Cells, ComputeReport]:
    grid = IntervalGrid(Granularity.parse(granularity), tz)
    aggregator, report = compute(lines, grid, config or KpiConfig(), NOW)
    return aggregator.snapshot(), report


def test_queued_0728_answered_0732_offers_in_0715_and_answers_in_0730() -> None:
    c = Conversation()
    c.queue("sales", entered=at("07:28"), ended=at("07:32"))
    cells, _ = run(c.lines())
    assert cells == {
        ("sales", "voice", at("07:15")): {"nOffered": (1, 1, 1, 1)},
        ("sales", "voice", at("07:30")): {
            "nOverSla": (1, 1, 1, 1),
            "tAnswered": (1, 240_000, 240_000, 240_000),
            "tWait": (1, 240_000, 240_000, 240_000),
        },
    }
    half_hours, _ = run(c.lines(), "PT30M")
    assert set(half_hours) == {("sales", "voice", at("07:00")), ("sales", "voice", at("07:30"))}
    assert half_hours[("sales", "voice", at("07:00"))] == {"nOffered": (1, 1, 1, 1)}


def test_answer_at_exactly_the_sl_threshold_meets_it_and_one_ms_more_misses_it() -> None:
    met, missed = Conversation(), Conversation()
    met.queue("q", at("09:00"), at("09:00:20"))
    missed.queue("q", at("09:01"), at("09:01:20") + 1)
    cells, _ = run(lines_of(met, missed))
    cell = cells[("q", "voice", at("09:00"))]
    assert cell["tAnswered"] == (2, 40_001, 20_000, 20_001)
    assert cell["nOverSla"] == (1, 1, 1, 1)


def test_interval_is_half_open_an_event_at_the_boundary_belongs_to_the_next() -> None:
    c = Conversation()
    c.queue("q", at("08:14:59"), at("08:15:00"))
    cells, _ = run(c.lines())
    assert ("q", "voice", at("08:00")) in cells and "nOffered" in cells[("q", "voice", at("08:00"))]
    assert cells[("q", "voice", at("08:15"))]["tAnswered"] == (1, 1000, 1000, 1000)


def test_abandons_include_short_abandons_and_the_service_level_follows_the_switches() -> None:
    answered, short, long_abandon, flow_out = Conversation(), Conversation(), Conversation(), Conversation()
    answered.queue("q", at("10:00"), at("10:00:10"))
    short.queue("q", at("10:01"), at("10:01:05"), outcome="ABANDON")
    long_abandon.queue("q", at("10:02"), at("10:03"), outcome="ABANDON")
    flow_out.queue("q", at("10:04"), at("10:07"), outcome="FLOW_OUT")
    lines = lines_of(answered, short, long_abandon, flow_out)
    cells, _ = run(lines)
    cell = cells[("q", "voice", at("10:00"))]
    assert cell["nOffered"] == (4, 4, 1, 1)
    assert cell["tAbandon"] == (2, 65_000, 5_000, 60_000)
    assert cell["tShortAbandon"] == (1, 5_000, 5_000, 5_000)
    assert cell["tFlowOut"] == (1, 180_000, 180_000, 180_000)
    assert cell["tWait"] == (4, 255_000, 5_000, 180_000)
    assert "nOverSla" not in cell

    def sl(config: KpiConfig) -> dict[str, Any]:
        grid = IntervalGrid(Granularity.PT15M)
        aggregator, _ = compute(lines, grid, config, NOW)
        doc = aggregates_response(aggregator.cells, grid, config)
        rows = doc["results"][0]["data"][0]["metrics"]
        return next(r["stats"] for r in rows if r["metric"] == "oServiceLevel")

    assert sl(KpiConfig()) == {"ratio": 1 / 3, "numerator": 1, "denominator": 3, "target": 0.8}
    no_short = KpiConfig(sl_include_short_abandons=False)
    assert sl(no_short) == {"ratio": 0.5, "numerator": 1, "denominator": 2, "target": 0.8}
    with_flow_outs = KpiConfig(sl_include_flow_outs=True)
    assert sl(with_flow_outs) == {"ratio": 0.25, "numerator": 1, "denominator": 4, "target": 0.8}
    answered_only = KpiConfig(sl_include_abandons=False)
    assert sl(answered_only) == {"ratio": 1.0, "numerator": 1, "denominator": 1, "target": 0.8}


def test_per_queue_service_level_overrides_the_default() -> None:
    c = Conversation()
    c.queue("vip", at("11:00"), at("11:00:15"))
    config = KpiConfig(
        service_levels=(QueueServiceLevel(queue_id="vip", duration_ms=10_000, percentage=0.9),)
    )
    cells, _ = run(c.lines(), config=config)
    assert cells[("vip", "voice", at("11:00"))]["nOverSla"] == (1, 1, 1, 1)
    doc = aggregates_response(
        compute(c.lines(), IntervalGrid(Granularity.PT15M), config, NOW)[0].cells,
        IntervalGrid(Granularity.PT15M),
        config,
    )
    rows = doc["results"][0]["data"][0]["metrics"]
    assert next(r for r in rows if r["metric"] == "oServiceLevel")["stats"] == {
        "ratio": 0.0,
        "numerator": 0,
        "denominator": 1,
        "target": 0.9,
    }


def test_transfer_between_queues_each_queue_counts_its_own_offer() -> None:
    c = Conversation()
    c.queue("sales", at("12:00"), at("12:00:30"))
    c.agent(
        "sales",
        ended=at("12:05"),
        talk_ms=260_000,
        alert_ms=4_000,
        disconnect="TRANSFER",
        acw_at=at("12:05:40"),
        wrapup_ms=40_000,
    )
    c.queue("billing", at("12:05"), at("12:06"))
    c.agent(
        "billing", ended=at("12:10"), talk_ms=230_000, held_ms=10_000, acw_at=at("12:10:30"), wrapup_ms=30_000
    )
    cells, _ = run(c.lines())
    sales, billing = cells[("sales", "voice", at("12:00"))], cells[("billing", "voice", at("12:00"))]
    assert sales["nOffered"] == billing["nOffered"] == (1, 1, 1, 1)
    assert sales["nTransferred"] == (1, 1, 1, 1)
    assert "nTransferred" not in billing
    assert sales["tHandle"] == (1, 300_000, 300_000, 300_000)
    assert sales["tAlert"] == (1, 4_000, 4_000, 4_000)
    assert billing["tAnswered"] == (1, 60_000, 60_000, 60_000)
    assert billing["tHeldComplete"] == (1, 10_000, 10_000, 10_000)
    assert billing["tTalkComplete"] == (1, 230_000, 230_000, 230_000)
    assert billing["tAcw"] == (1, 30_000, 30_000, 30_000)
    assert billing["tHandle"] == (1, 270_000, 270_000, 270_000)


def test_handle_lands_at_the_acw_however_late_and_at_user_end_only_without_one() -> None:
    prompt, slow, never, other = Conversation(), Conversation(), Conversation(), Conversation()
    other.agent("other", ended=at("13:25"), talk_ms=1_000, acw_at=at("13:25:10"))  # moves the watermark
    prompt.agent(
        "q", ended=at("13:14"), talk_ms=100_000, held_ms=20_000, acw_at=at("13:16"), wrapup_ms=120_000
    )
    slow.agent("q", ended=at("13:01"), talk_ms=50_000, acw_at=at("13:31"), wrapup_ms=1_800_000)
    never.agent("q", ended=at("13:02"), talk_ms=70_000, held_ms=5_000)
    cells, report = run(lines_of(prompt, slow, never, other))
    first, second, third = (cells[("q", "voice", at(t))] for t in ("13:00", "13:15", "13:30"))
    assert first["tHandle"] == (1, 75_000, 75_000, 75_000)  # never: talk + held at its 13:02 user.end
    assert first["tTalkComplete"] == (3, 220_000, 50_000, 100_000)
    assert second["tHandle"] == (1, 240_000, 240_000, 240_000)  # (100 + 20 + 120) s at the 13:16 acw
    assert second["tAcw"] == (1, 120_000, 120_000, 120_000)
    # A 30-minute wrap-up: placed at 13:01 provisionally once the acw grace passed, then moved.
    assert third == {
        "tAcw": (1, 1_800_000, 1_800_000, 1_800_000),
        "tHandle": (1, 1_850_000, 1_850_000, 1_850_000),
    }
    assert report.correlation.handle_at_user_end == 2  # slow (then moved) and never
    assert report.correlation.handle_moved_to_acw == 1


def test_duplicated_and_reordered_events_give_the_same_numbers() -> None:
    conversations = []
    for minute in range(0, 50, 5):
        c = Conversation()
        c.queue("q", at(f"14:{minute:02d}"), at(f"14:{minute:02d}:30"))
        c.agent(
            "q",
            ended=at(f"14:{minute + 4:02d}"),
            talk_ms=200_000,
            acw_at=at(f"14:{minute + 4:02d}:20"),
            wrapup_ms=20_000,
        )
        conversations.append(c)
    clean = lines_of(*conversations)
    messy = clean + clean[::3]
    random.Random(3).shuffle(messy)  # the whole hour is shuffled, beyond any reorder tolerance
    config = KpiConfig(reorder_tolerance_ms=3_600_000)
    clean_cells, _ = run(clean, config=config)
    messy_cells, report = run(messy, config=config)
    assert messy_cells == clean_cells
    assert report.correlation.duplicates == len(clean[::3])
    assert clean_cells[("q", "voice", at("14:00"))]["nOffered"] == (3, 3, 1, 1)


def test_unmatched_correlation_state_is_reported_not_lost() -> None:
    lone_end, lone_start = Conversation(), Conversation()
    lone_end.events.append(("acd.end", lone_end._body("s1", at("15:00"), queueId="q", acdOutcome="ABANDON")))
    lone_start.queue("q", at("15:01"), ended=None)
    cells, report = run(lines_of(lone_end, lone_start))
    assert report.correlation.acd_end_without_start == 1
    assert report.correlation.acd_start_unmatched == 1
    assert cells == {("q", "voice", at("15:00")): {"nOffered": (1, 1, 1, 1)}}


def test_new_york_fall_back_day_keeps_the_repeated_hour_apart() -> None:
    first, second = Conversation(), Conversation()
    first.queue("q", at("05:30", "2026-11-01"), at("05:31", "2026-11-01"))  # 01:30 EDT
    second.queue("q", at("06:30", "2026-11-01"), at("06:31", "2026-11-01"))  # 01:30 EST
    cells, _ = run(lines_of(first, second), "PT60M", "America/New_York")
    assert sorted(start for (_, _, start) in cells) == [at("05:00", "2026-11-01"), at("06:00", "2026-11-01")]
    grid = IntervalGrid(Granularity.PT15M, "America/New_York")
    assert len(grid.starts_between(at("04:00", "2026-11-01"), at("05:00", "2026-11-02"))) == 100  # 25 h
    assert len(grid.starts_between(at("05:00", "2026-03-08"), at("04:00", "2026-03-09"))) == 92  # 23 h


def test_kathmandu_half_hours_start_at_quarter_past_utc() -> None:
    c = Conversation()
    c.queue("q", at("10:20"), at("10:50"))  # 16:05 and 16:35 Nepal time (UTC+05:45)
    grid = IntervalGrid(Granularity.PT30M, "Asia/Kathmandu")
    aggregator, _ = compute(c.lines(), grid, KpiConfig(), NOW)
    doc = aggregates_response(aggregator.cells, grid, KpiConfig())
    intervals = [d["interval"] for d in doc["results"][0]["data"]]
    assert intervals == [
        "2026-11-02T10:15:00.000Z/2026-11-02T10:45:00.000Z",
        "2026-11-02T10:45:00.000Z/2026-11-02T11:15:00.000Z",
    ]


def test_bare_detail_objects_give_the_same_numbers_as_envelopes() -> None:
    c = Conversation(media="CHAT")
    c.queue("q", at("16:00"), at("16:01"), outcome="ABANDON")
    assert (
        run(c.lines(bare=True))[0]
        == run(c.lines())[0]
        == {
            ("q", "chat", at("16:00")): {
                "nOffered": (1, 1, 1, 1),
                "tAbandon": (1, 60_000, 60_000, 60_000),
                "tWait": (1, 60_000, 60_000, 60_000),
            }
        }
    )
