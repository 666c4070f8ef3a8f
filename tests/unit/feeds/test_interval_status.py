"""What operators see of an interval: its state from the record, the ledger and reconciliation,
most pressing first; and the status page that shows it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.interval_status import IntervalStatus
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import parse_instant
from streamvane.web.status_page import cell_html, status_html

PROFILE = FeedProfile(id="wfm", version=1, time_zone="Europe/Berlin", grace_ms=16 * 60_000)
START = parse_instant("2026-11-02T08:00:00Z")
END = START + 15 * 60_000
DUE = END + 16 * 60_000 + 10 * 60_000


def outcome(result: str, finished_ms: int, revision: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "outcome",
        "profile": "wfm",
        "intervalStartMs": START,
        "intervalEndMs": END,
        "revision": revision,
        "result": result,
        "attempts": 1,
        "finishedMs": finished_ms,
        **extra,
    }


def view(*entries: dict[str, Any], revision: int = 1) -> IntervalStatus:
    status = IntervalStatus()
    status.record(replace(interval_record(PROFILE, START, kpi=KpiConfig()), revision=revision))
    for entry in entries:
        status.ledger(entry)
    return status


def state(status: IntervalStatus) -> str:
    return status.cells[("wfm", START)].state(PROFILE)


def test_states_from_the_ledger() -> None:
    assert state(view()) == "pending"
    started = {**outcome("x", 0), "kind": "attempt-started", "attempt": 2}
    assert state(view(started)) == "retrying"
    assert state(view(started, outcome("delivered", DUE))) == "delivered-on-time"
    assert state(view(outcome("delivered", DUE + 1))) == "delivered-late"
    assert state(view(outcome("deadline-exceeded", DUE))) == "dead-lettered"
    assert state(
        view(outcome("deadline-exceeded", DUE), outcome("delivered", DUE + 60_000, source="redrive"))
    ) == ("delivered-late")
    restated = view(outcome("delivered", DUE), outcome("delivered", DUE + 5, revision=2), revision=2)
    assert state(restated) == "restated"


def test_reconciliation_out_of_tolerance_outranks_everything() -> None:
    status = view(outcome("delivered", DUE))
    status.reconciled(
        {"profile": "wfm", "intervalStartMs": START, "revision": 1, "verdict": "out", "ok": 3, "out": 1}
    )
    assert state(status) == "out-of-tolerance"


def test_the_page_shows_each_cell_in_its_profiles_zone_with_its_state_and_a_link() -> None:
    status = view(outcome("deadline-exceeded", DUE, detail="503 after 9 attempts"))
    page = status_html(
        [PROFILE], status, 10, {"g / t": 4}, {0: START}, [{"source": "delivery wfm", "detail": "x"}], DUE
    )
    assert (
        'class="cell s-dead-lettered"' in page and ">09:00 <small>dead-lettered" in page
    )  # 08:00Z is 09:00 in Berlin
    assert (
        f"/status/cell?profile=wfm&amp;start={START}" in page
        or f"/status/cell?profile=wfm&start={START}" in page
    )
    assert "<script" not in page and 'http-equiv="refresh"' in page and "@media print" in page
    cell = status.cells[("wfm", START)]
    detail = cell_html(PROFILE, cell, '{"rows": []}', "application/json")
    assert (
        cell.record is not None and cell.record.idempotency_key in detail and "503 after 9 attempts" in detail
    )
