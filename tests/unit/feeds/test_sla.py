"""SLA acceptance: a ledger with known outcomes in, the exact on-time ratio and causes out."""

from __future__ import annotations

import orjson

from streamvane.feeds.sla import OnTimeWindow, judge, outcomes_from_ledger
from streamvane.kpi.intervals import parse_instant
from tests.support.ledger import EXPECTED_EXCEPTIONS, MINUTE, PROFILE, close_of, known_ledger

FROM, TO, AS_OF = "2026-11-02T07:30:00Z", "2026-11-02T10:15:00Z", "2026-11-02T10:30:00Z"


def report_of_known_ledger() -> dict[str, object]:
    entries, emitted = known_ledger()
    outcomes = outcomes_from_ledger([orjson.loads(e) for e in entries], PROFILE.id)
    return judge(
        PROFILE, outcomes, emitted, parse_instant(FROM), parse_instant(TO), parse_instant(AS_OF)
    ).as_json()


def test_on_time_ratio_per_day_and_over_the_range() -> None:
    report = report_of_known_ledger()
    assert (report["intervals"], report["on_time"], report["late"], report["missing"]) == (10, 4, 3, 3)
    assert report["ratio"] == 0.4 and report["met"] is False
    assert [(d["date"], d["intervals"], d["on_time"], d["met"]) for d in report["days"]] == [  # type: ignore[attr-defined]
        ("2026-11-01", 2, 2, True),
        ("2026-11-02", 8, 2, False),
    ]
    assert report["pending"] == 1, "10:00 is due only at 10:41"


def test_every_late_or_missing_interval_is_named_with_its_cause() -> None:
    report = report_of_known_ledger()
    got = [(e["interval"], e["state"], e["causes"]) for e in report["exceptions"]]  # type: ignore[attr-defined]
    assert got == EXPECTED_EXCEPTIONS


def test_the_window_ratio_counts_each_interval_once_by_its_first_outcome() -> None:
    window = OnTimeWindow(window_ms=60 * MINUTE)
    end = parse_instant("2026-11-02T08:15:00Z")
    due = close_of("2026-11-02T08:00:00Z") + 10 * MINUTE
    window.observe(PROFILE, end, True, due)
    window.observe(PROFILE, end + 15 * MINUTE, False, due + 15 * MINUTE)  # dead-lettered
    window.observe(PROFILE, end + 15 * MINUTE, True, due + 16 * MINUTE)  # redriven: still not on time
    window.observe(PROFILE, end + 30 * MINUTE, True, due + 40 * MINUTE)  # late
    assert window.ratio(PROFILE.id, due + 40 * MINUTE) == 1 / 3
    assert window.ratio(PROFILE.id, due + 61 * MINUTE) == 0.0, "the on-time one left the window"
    assert window.ratio("other", due) is None
