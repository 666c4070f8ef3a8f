"""Continuous reconciliation's plan and report: when an interval is judged, and what is said."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.reconcile import ReconciledCell, interval_report, relative_deviation
from streamvane.feeds.reconcile_schedule import ReconcileSchedule
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import parse_instant
from streamvane.records.feed_record import FeedRecord

PROFILE = FeedProfile(id="p", version=1)
MINUTE = 60_000


def record(start: str, revision: int = 1) -> FeedRecord:
    return replace(interval_record(PROFILE, parse_instant(start), kpi=KpiConfig()), revision=revision)


def test_an_interval_is_due_at_its_close_plus_the_settle_delay() -> None:
    plan: ReconcileSchedule[int] = ReconcileSchedule(settle_ms=30 * MINUTE)
    assert plan.add(record("2026-11-02T08:00:00Z"), 1, grace_ms=16 * MINUTE) is None
    due = parse_instant("2026-11-02T08:15:00Z") + 46 * MINUTE
    assert plan.next_due_ms() == due
    assert plan.due(due - 1) == []
    assert [(r.interval_start_ms, pos) for r, pos in plan.due(due)] == [
        (parse_instant("2026-11-02T08:00:00Z"), 1)
    ]
    assert len(plan) == 0 and plan.next_due_ms() is None


def test_only_the_latest_revision_is_judged_and_the_replaced_one_is_handed_back() -> None:
    plan: ReconcileSchedule[int] = ReconcileSchedule(settle_ms=0)
    plan.add(record("2026-11-02T08:00:00Z"), 1, grace_ms=0)
    assert plan.add(record("2026-11-02T08:00:00Z", 2), 2, grace_ms=0) == 1
    assert plan.add(record("2026-11-02T08:00:00Z"), 3, grace_ms=0) == 3, (
        "a late lower revision is never judged"
    )
    assert [(r.revision, pos) for r, pos in plan.due(2**62)] == [(2, 2)]


def test_a_failed_query_is_tried_again_at_the_given_time() -> None:
    plan: ReconcileSchedule[int] = ReconcileSchedule(settle_ms=0)
    r = record("2026-11-02T08:00:00Z")
    plan.at(r, 7, 5_000)
    assert plan.due(4_999) == [] and plan.due(5_000) == [(r, 7)]


def cell(
    field: str, ours: float | None, theirs: float | None, verdict: Literal["ok", "out"] = "ok"
) -> ReconciledCell:
    deviation = None if ours is None or theirs is None else abs(ours - theirs)
    return ReconciledCell(0, 900_000, "q", "voice", field, ours, theirs, deviation, 1.0, verdict)


def test_relative_deviation_is_bounded_where_genesys_says_zero() -> None:
    assert relative_deviation(cell("offered", 105, 100)) == 0.05
    assert relative_deviation(cell("offered", 1, 0)) == 1.0
    assert relative_deviation(cell("aht", None, None)) == 0.0
    assert relative_deviation(cell("aht", 30.0, None)) == 30.0


def test_the_report_names_the_record_and_only_the_cells_out_of_tolerance() -> None:
    r = record("2026-11-02T08:00:00Z", 3)
    report = interval_report(r, [cell("offered", 110, 100, "out"), cell("aht", 30, 30)], reconciled_at_ms=42)
    assert report["verdict"] == "out" and (report["ok"], report["out"]) == (1, 1)
    assert (report["revision"], report["idempotencyKey"], report["kpiFingerprint"]) == (
        3,
        r.idempotency_key,
        KpiConfig().fingerprint,
    )
    assert report["largestRelativeDeviation"] == {"offered": 0.1, "aht": 0.0}
    assert [c["field"] for c in report["outCells"]] == ["offered"]
