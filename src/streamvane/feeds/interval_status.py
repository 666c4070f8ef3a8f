"""What operators and dashboards see of each (profile, interval): the live feed record, what
became of its delivery, and its reconciliation — one view, fed from the same topics the product
writes (feed records, delivery ledger, reconciliation reports), so the status page, the read API
and the WFM endpoint show the same numbers.

A cell's **state**, most pressing first:
- ``out-of-tolerance``: reconciliation judged the latest revision out of tolerance;
- ``dead-lettered``: the latest revision's last outcome is owed to the endpoint (a dead letter);
- ``retrying``: an attempt of the latest revision started and no outcome is recorded yet;
- ``restated``: a revision after the first was delivered;
- ``delivered-on-time`` / ``delivered-late``: the first delivery finished by, or after, the
  profile's acceptance deadline (scheduled close = end + grace, plus ``on_time_within_ms``);
- ``pending``: nothing delivered yet (the record may not exist yet).
Times are epoch ms; intervals are half-open ``[start, end)``. Pure: the caller feeds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.records.feed_record import FeedRecord


class State(StrEnum):
    OUT_OF_TOLERANCE = "out-of-tolerance"
    DEAD_LETTERED = "dead-lettered"
    RETRYING = "retrying"
    RESTATED = "restated"
    DELIVERED_ON_TIME = "delivered-on-time"
    DELIVERED_LATE = "delivered-late"
    PENDING = "pending"


STATES: tuple[State, ...] = tuple(State)


@dataclass
class IntervalCell:
    profile_id: str
    start_ms: int
    end_ms: int
    record: FeedRecord | None = None
    first_delivered_ms: int | None = None
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    started: dict[int, int] = field(default_factory=dict)  # revision -> attempts started
    reconciliation: dict[int, dict[str, Any]] = field(default_factory=dict)  # revision -> report

    @property
    def revision(self) -> int:
        return self.record.revision if self.record else 0

    def latest_outcome(self) -> dict[str, Any] | None:
        mine = [o for o in self.outcomes if o["revision"] == self.revision]
        return mine[-1] if mine else None

    def state(self, profile: FeedProfile) -> State:
        report = self.reconciliation.get(self.revision)
        if report is not None and report.get("verdict") == "out":
            return State.OUT_OF_TOLERANCE
        latest = self.latest_outcome()
        if latest is not None and Result(latest["result"]).dead_letters:
            return State.DEAD_LETTERED
        if latest is None and self.started.get(self.revision):
            return State.RETRYING
        if latest is not None and latest["result"] == Result.DELIVERED and self.revision > 1:
            return State.RESTATED
        if self.first_delivered_ms is None:
            return State.PENDING
        due = self.end_ms + profile.grace_ms + profile.acceptance.on_time_within_ms
        return State.DELIVERED_ON_TIME if self.first_delivered_ms <= due else State.DELIVERED_LATE

    def attempts(self) -> int:
        latest = self.latest_outcome()
        return int(latest["attempts"]) if latest else self.started.get(self.revision, 0)


@dataclass
class IntervalStatus:
    """Every known cell, keyed by (profile, interval start)."""

    cells: dict[tuple[str, int], IntervalCell] = field(default_factory=dict)

    def _cell(self, profile_id: str, start_ms: int, end_ms: int) -> IntervalCell:
        key = (profile_id, start_ms)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = IntervalCell(profile_id, start_ms, end_ms)
        return cell

    def record(self, record: FeedRecord) -> None:
        cell = self._cell(record.profile_id, record.interval_start_ms, record.interval_end_ms)
        if cell.record is None or record.revision >= cell.record.revision:
            cell.record = record

    def ledger(self, entry: Mapping[str, Any]) -> None:
        kind = entry.get("kind")
        if kind not in ("outcome", "attempt-started") or entry.get("profile") in (None, "?"):
            return
        cell = self._cell(str(entry["profile"]), int(entry["intervalStartMs"]), int(entry["intervalEndMs"]))
        revision = int(entry["revision"])
        if kind == "attempt-started":
            cell.started[revision] = max(cell.started.get(revision, 0), int(entry["attempt"]))
            return
        cell.outcomes.append(dict(entry))
        if entry["result"] == Result.DELIVERED and cell.first_delivered_ms is None:
            cell.first_delivered_ms = int(entry["finishedMs"])

    def reconciled(self, report: Mapping[str, Any]) -> None:
        start = int(report["intervalStartMs"])
        known = self.cells.get((str(report["profile"]), start))
        end = known.end_ms if known else start
        self._cell(str(report["profile"]), start, end).reconciliation[int(report["revision"])] = dict(report)

    def select(
        self, profile_id: str, from_ms: int, to_ms: int, dimensions: set[tuple[str, str]] | None = None
    ) -> list[IntervalCell]:
        """The profile's cells with a record, starting in ``[from_ms, to_ms)``, in order."""
        return sorted(
            (
                c
                for (p, start), c in self.cells.items()
                if p == profile_id and from_ms <= start < to_ms and c.record is not None
            ),
            key=lambda c: c.start_ms,
        )
