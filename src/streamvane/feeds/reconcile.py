"""Reconciliation: what we delivered against Genesys' own numbers, field by field, within the
profile's tolerances.

Both sides are aggregates-query responses (``POST /api/v2/analytics/conversations/aggregates/
query``; :mod:`streamvane.kpi.aggregates_response` writes ours in the same shape): per interval,
queue and media type, each metric's Genesys stats (count, sum, min, max; durations in ms). Each
side's stats go through the profile's KPI mapping, so what is judged is what the WFM received.

A field passes when ``|ours − theirs| ≤ max(floor, tolerance_pct % × |theirs|)``. The floor is in
the field's own unit — by default 1 (one call, one second of a duration, one percentage point) —
because ±2 % of 3 calls means nothing. A field defined on one side only (an AHT over no handled
calls) is out unless the other is within the floor of 0. Intervals are half-open ``[start, end)``
in epoch ms, written as Genesys writes them (ISO-8601, UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from streamvane.errors import InputError
from streamvane.feeds.mapping import RowContext, Stats
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi import metrics as m
from streamvane.kpi.intervals import format_interval, parse_instant
from streamvane.records.feed_record import FeedRecord

CellKey = tuple[int, int, str, str]  # interval start ms, end ms, queue id, media type
_UNIT_SECONDS_MS = {"ms": 1000.0, "s": 1.0, "min": 1 / 60}


class AggregatesError(InputError):
    """The document is not an aggregates-query response."""


def parse_aggregates(doc: Any) -> dict[CellKey, dict[str, tuple[int, int, int, int]]]:
    """Every (interval, queue, media) cell's metric stats, as (count, sum, min, max)."""
    cells: dict[CellKey, dict[str, tuple[int, int, int, int]]] = {}
    try:
        for result in doc.get("results", []):
            group = result["group"]
            queue, media = str(group["queueId"]), str(group["mediaType"]).lower()
            for data in result.get("data", []):
                start_text, end_text = str(data["interval"]).split("/")
                key = (parse_instant(start_text), parse_instant(end_text), queue, media)
                stats = cells.setdefault(key, {})
                for row in data.get("metrics", []):
                    values, metric = row["stats"], str(row["metric"])
                    if metric == m.O_SERVICE_LEVEL:
                        stats[metric] = (int(values["denominator"]), int(values["numerator"]), 0, 0)
                        continue
                    stats[metric] = (
                        int(values["count"]),
                        int(values.get("sum", 0)),
                        int(values.get("min", 0)),
                        int(values.get("max", 0)),
                    )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise AggregatesError(f"not an aggregates response: {exc!r}") from exc
    return cells


def records_as_cells(records: Iterable[FeedRecord], profile_id: str) -> dict[CellKey, Stats]:
    """The live feed records of ``profile_id`` (the latest per interval) as cells: what the WFM
    was sent, stat for stat."""
    cells: dict[CellKey, Stats] = {}
    for record in records:
        if record.profile_id != profile_id:
            continue
        for row in record.rows:
            key = (record.interval_start_ms, record.interval_end_ms, row.queue_id, row.media_type)
            cells[key] = {s.metric: (s.count, s.sum, s.min, s.max) for s in row.metrics}
    return cells


@dataclass(frozen=True, slots=True)
class ReconciledCell:
    interval_start_ms: int
    interval_end_ms: int
    queue_id: str
    media_type: str
    field: str
    ours: float | None
    theirs: float | None
    deviation: float | None
    tolerance: float
    verdict: Literal["ok", "out"]

    def as_json(self) -> dict[str, Any]:
        return {
            "interval": format_interval(self.interval_start_ms, self.interval_end_ms),
            "queue_id": self.queue_id,
            "media_type": self.media_type,
            "field": self.field,
            "ours": self.ours,
            "theirs": self.theirs,
            "deviation": self.deviation,
            "tolerance": self.tolerance,
            "verdict": self.verdict,
        }


def default_floor(unit: str | None, is_duration: bool) -> float:
    """One unit of the field: a second for a duration (in its unit), else 1."""
    return _UNIT_SECONDS_MS[unit or "ms"] if is_duration else 1.0


def reconcile(
    profile: FeedProfile,
    ours: Mapping[CellKey, Stats],
    theirs: Mapping[CellKey, Stats],
    from_ms: int,
    to_ms: int,
) -> list[ReconciledCell]:
    """Every field of every cell in ``[from_ms, to_ms)`` on either side (restricted to the
    profile's dimensions when it lists them), in order."""
    wanted = {(d.queue_id, d.media_type) for d in profile.dimensions}
    keys = sorted(
        key
        for key in set(ours) | set(theirs)
        if from_ms <= key[0] < to_ms and (not wanted or (key[2], key[3]) in wanted)
    )
    acceptance = profile.acceptance
    out: list[ReconciledCell] = []
    for key in keys:
        start, end, queue, media = key
        ctx = RowContext(queue, media)
        for spec in profile.fields:
            mine = spec.evaluate(ours.get(key, {}), ctx)
            other = spec.evaluate(theirs.get(key, {}), ctx)
            pct = acceptance.tolerance_pct.get(spec.name, acceptance.default_tolerance_pct)
            floor = acceptance.absolute_floor.get(spec.name, default_floor(spec.unit, spec.is_duration))
            allowed = max(floor, pct / 100 * abs(other or 0))
            deviation = None if mine is None or other is None else abs(mine - other)
            if deviation is None:
                ok = (mine is None and other is None) or abs((mine or 0) - (other or 0)) <= floor
            else:
                ok = deviation <= allowed
            out.append(
                ReconciledCell(
                    start,
                    end,
                    queue,
                    media,
                    spec.name,
                    mine,
                    other,
                    deviation,
                    allowed,
                    "ok" if ok else "out",
                )
            )
    return out


def relative_deviation(cell: ReconciledCell) -> float:
    """|ours − theirs| relative to |theirs|, or to 1 unit where Genesys says 0 (or nothing), so a
    quiet interval's one stray call is 1.0, not infinite. A field defined on one side only counts
    its value as the deviation."""
    if cell.deviation is None:
        if cell.ours is None and cell.theirs is None:
            return 0.0
        return abs((cell.ours or 0) - (cell.theirs or 0)) / max(1.0, abs(cell.theirs or 0))
    return cell.deviation / max(1.0, abs(cell.theirs or 0))


def interval_report(record: FeedRecord, cells: list[ReconciledCell], reconciled_at_ms: int) -> dict[str, Any]:
    """What the reconciliation topic holds for one delivered interval: the record's identity, the
    verdict counts, the largest relative deviation per field and every cell out of tolerance."""
    largest: dict[str, float] = {}
    for cell in cells:
        largest[cell.field] = max(largest.get(cell.field, 0.0), relative_deviation(cell))
    counts = summary(cells)
    return {
        "profile": record.profile_id,
        "interval": format_interval(record.interval_start_ms, record.interval_end_ms),
        "intervalStartMs": record.interval_start_ms,
        "revision": record.revision,
        "idempotencyKey": record.idempotency_key,
        "kpiFingerprint": record.kpi_fingerprint,
        "reconciledAtMs": reconciled_at_ms,
        "verdict": "out" if counts["out"] else "ok",
        **counts,
        "largestRelativeDeviation": largest,
        "outCells": [c.as_json() for c in cells if c.verdict == "out"],
    }


def summary(cells: Iterable[ReconciledCell]) -> dict[str, int]:
    counts = {"ok": 0, "out": 0}
    for cell in cells:
        counts[cell.verdict] += 1
    return counts
