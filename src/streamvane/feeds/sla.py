"""SLA acceptance: which intervals a profile delivered on time, and why the others were not.

The promise (``acceptance`` in the profile): ``on_time_target`` of the intervals are acknowledged
by the endpoint within ``on_time_within_ms`` of their **scheduled close**, the interval's end plus
the profile's grace (wall clock, epoch ms; in live operation event time follows the wall clock).
Measuring from the scheduled close rather than from when the worker emitted the record means a
stalled watermark or a worker that was down makes intervals late, as the WFM sees it.

- An interval counts once it is **due** (scheduled close + ``on_time_within_ms`` ≤ ``as_of``);
  intervals not yet due are *pending* and left out of every ratio.
- It is **on time** when its first delivered outcome (any revision, any source) finished by then,
  **late** when that was after, **missing** when nothing was delivered.
- Causes come from the delivery ledger and, for an interval with no ledger entry at all, from
  whether the feed topic holds a record for it (see :func:`judge`).

Pure: ledger entries and the set of emitted intervals come in, a report goes out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from streamvane.feeds.delivery_result import Result
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.intervals import format_instant, format_interval, zone

SLACK_MS = 60_000  # emission or dispatch this much after its due moment is named as a cause


@dataclass(frozen=True, slots=True)
class LedgerAttempt:
    number: int
    status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class LedgerOutcome:
    """One ``kind: outcome`` ledger entry (times epoch ms) with its attempts."""

    interval_start_ms: int
    revision: int
    result: str
    source: str
    close_ms: int
    first_attempt_ms: int | None
    finished_ms: int
    attempts: tuple[LedgerAttempt, ...] = ()

    @property
    def delivered(self) -> bool:
        return self.result == Result.DELIVERED

    @property
    def dead_letter(self) -> bool:
        return Result(self.result).dead_letters


def outcomes_from_ledger(entries: Iterable[Mapping[str, Any]], profile_id: str) -> list[LedgerOutcome]:
    """The profile's outcomes, in ledger order, each with the attempt entries that preceded it
    for the same interval, revision and source (the attempts of one delivery)."""
    pending: dict[tuple[int, int, str], list[LedgerAttempt]] = defaultdict(list)
    out: list[LedgerOutcome] = []
    for entry in entries:
        if entry.get("profile") != profile_id:
            continue
        key = (int(entry["intervalStartMs"]), int(entry["revision"]), str(entry["source"]))
        if entry.get("kind") == "attempt":
            pending[key].append(LedgerAttempt(int(entry["attempt"]), entry.get("status"), entry.get("error")))
        elif entry.get("kind") == "outcome":
            out.append(
                LedgerOutcome(
                    interval_start_ms=key[0],
                    revision=key[1],
                    result=str(entry["result"]),
                    source=key[2],
                    close_ms=int(entry["closeMs"]),
                    first_attempt_ms=entry.get("firstAttemptMs"),
                    finished_ms=int(entry["finishedMs"]),
                    attempts=tuple(pending.pop(key, ())),
                )
            )
    return out


State = Literal["on-time", "late", "missing"]


@dataclass(frozen=True, slots=True)
class IntervalVerdict:
    start_ms: int
    end_ms: int
    due_ms: int
    state: State
    delivered_ms: int | None
    causes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "interval": format_interval(self.start_ms, self.end_ms),
            "state": self.state,
            "due": format_instant(self.due_ms),
            "delivered_after_due_s": None
            if self.delivered_ms is None
            else round((self.delivered_ms - self.due_ms) / 1000, 3),
            "causes": list(self.causes),
        }


@dataclass(frozen=True, slots=True)
class Tally:
    label: str
    intervals: int
    on_time: int
    late: int
    missing: int
    target: float

    @property
    def ratio(self) -> float | None:
        return self.on_time / self.intervals if self.intervals else None

    @property
    def met(self) -> bool:
        return self.ratio is None or self.ratio >= self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "intervals": self.intervals,
            "on_time": self.on_time,
            "late": self.late,
            "missing": self.missing,
            "ratio": self.ratio,
            "met": self.met,
        }


@dataclass(frozen=True, slots=True)
class SlaReport:
    profile_id: str
    target: float
    within_ms: int
    total: Tally
    days: tuple[Tally, ...]
    pending: int
    verdicts: tuple[IntervalVerdict, ...] = field(repr=False)

    @property
    def exceptions(self) -> list[IntervalVerdict]:
        return [v for v in self.verdicts if v.state != "on-time"]

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile_id,
            "target": self.target,
            "on_time_within_s": self.within_ms / 1000,
            **{k: v for k, v in self.total.as_json().items() if k != "label"},
            "pending": self.pending,
            "days": [
                {"date": d.label, **{k: v for k, v in d.as_json().items() if k != "label"}} for d in self.days
            ],
            "exceptions": [v.as_json() for v in self.exceptions],
        }


def judge(
    profile: FeedProfile,
    outcomes: Iterable[LedgerOutcome],
    emitted: Iterable[int],
    from_ms: int,
    to_ms: int,
    as_of_ms: int,
) -> SlaReport:
    """Judge every interval of ``profile`` starting in ``[from_ms, to_ms)``. ``emitted`` are the
    interval starts the feed topic holds a record for; ``as_of_ms`` is now (wall clock)."""
    grid = profile.grid()
    by_interval: dict[int, list[LedgerOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_interval[outcome.interval_start_ms].append(outcome)
    written = set(emitted)
    verdicts: list[IntervalVerdict] = []
    pending = 0
    start = grid.start_of(from_ms)
    if start < from_ms:
        start = grid.next_start(start)
    while start < to_ms:
        end = grid.next_start(start)
        close = end + profile.grace_ms
        due = close + profile.acceptance.on_time_within_ms
        if due > as_of_ms:
            pending += 1
        else:
            verdicts.append(_verdict(start, end, close, due, by_interval.get(start, []), start in written))
        start = end
    tz = zone(profile.time_zone)
    days: dict[str, list[IntervalVerdict]] = defaultdict(list)
    for verdict in verdicts:
        days[datetime.fromtimestamp(verdict.start_ms / 1000, tz).date().isoformat()].append(verdict)
    target = profile.acceptance.on_time_target
    return SlaReport(
        profile.id,
        target,
        profile.acceptance.on_time_within_ms,
        _tally("total", verdicts, target),
        tuple(_tally(day, found, target) for day, found in sorted(days.items())),
        pending,
        tuple(verdicts),
    )


def _tally(label: str, verdicts: list[IntervalVerdict], target: float) -> Tally:
    states = [v.state for v in verdicts]
    return Tally(
        label, len(states), states.count("on-time"), states.count("late"), states.count("missing"), target
    )


def _verdict(
    start: int, end: int, close: int, due: int, outcomes: list[LedgerOutcome], written: bool
) -> IntervalVerdict:
    ordered = sorted(outcomes, key=lambda o: o.finished_ms)
    first = next((o for o in ordered if o.delivered), None)
    if first is not None and first.finished_ms <= due:
        return IntervalVerdict(start, end, due, "on-time", first.finished_ms, ())
    before = [o for o in ordered if first is None or o.finished_ms <= first.finished_ms]
    causes: list[str] = []
    failed = [o for o in before if o.dead_letter]
    if failed:
        results = ", ".join(sorted({o.result for o in failed}))
        causes.append(f"dead letter: {results} ({sum(len(o.attempts) for o in failed)} attempts)")
    attempts = [a for o in before for a in o.attempts if a.status not in (200, 201, 202, 204)]
    if any(a.status is None and a.error for a in attempts):
        errors = sorted({a.error for a in attempts if a.status is None and a.error})
        causes.append(f"endpoint down: {', '.join(errors)}")
    statuses = sorted({a.status for a in attempts if a.status is not None})
    if statuses:
        causes.append(f"retries: HTTP {', '.join(map(str, statuses))}")
    dispatched = [o for o in before if o.source == "dispatch"]
    if dispatched:
        emitted_at = min(o.close_ms for o in dispatched)
        if emitted_at > close + SLACK_MS:
            causes.append(
                f"record emitted {(emitted_at - close) / 60_000:.1f} min after close "
                "(worker down or watermark stalled)"
            )
        started = min((o.first_attempt_ms for o in dispatched if o.first_attempt_ms), default=None)
        if started is not None and started > max(emitted_at, close) + SLACK_MS:
            causes.append(
                f"dispatcher behind: first attempt {(started - emitted_at) / 1000:.0f} s after emission"
            )
    if first is not None and first.source != "dispatch":
        causes.append(f"delivered by {first.source}")
    if not outcomes:
        causes.append(
            "emitted, never delivered (dispatcher down or behind)"
            if written
            else "not emitted (worker down or watermark stalled)"
        )
    state: State = "late" if first is not None else "missing"
    return IntervalVerdict(start, end, due, state, first.finished_ms if first else None, tuple(causes))


@dataclass
class OnTimeWindow:
    """The rolling on-time ratio the dispatcher exports: per profile, the first final outcome of
    each interval whose due moment is within the last ``window_ms`` (a later revision does not
    change an interval's verdict)."""

    window_ms: int
    _seen: dict[str, dict[int, tuple[int, bool]]] = field(default_factory=dict)  # end -> (due, on time)

    def observe(self, profile: FeedProfile, interval_end_ms: int, delivered: bool, finished_ms: int) -> None:
        due = interval_end_ms + profile.grace_ms + profile.acceptance.on_time_within_ms
        seen = self._seen.setdefault(profile.id, {})
        if interval_end_ms in seen:
            return
        seen[interval_end_ms] = (due, delivered and finished_ms <= due)

    def ratio(self, profile_id: str, now_ms: int) -> float | None:
        seen, cutoff = self._seen.get(profile_id, {}), now_ms - self.window_ms
        for end in [end for end, (due, _) in seen.items() if due < cutoff]:
            del seen[end]
        verdicts = [ok for _, ok in seen.values()]
        return sum(verdicts) / len(verdicts) if verdicts else None
