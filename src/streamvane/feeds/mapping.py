"""The KPI mapping matrix: each payload field ← a core metric and statistic, or a derived KPI.

Inputs are one row's metric stats (count, sum, min, max; durations in integer ms, as Genesys
reports them). The contract for every field:
- ``metric`` + ``stat``: ``count`` | ``sum`` | ``min`` | ``max`` | ``avg`` (= sum / count);
- ``derived``: a KPI from :data:`DERIVED`, each defined once here (AHT, ASA, service level %, …);
- ``ratio``: numerator / denominator of two metric stats, times ``scale``;
- ``unit`` converts durations from ms (``s``, ``min``); counts and ratios refuse a unit;
- ``decimals`` rounds half-up (0 gives an integer);
- a field that is undefined for the row (avg or ratio over zero) is ``null`` or ``0`` by
  ``when_empty``; counts and sums of a quiet row are genuinely 0, never null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamvane.kpi import metrics as m
from streamvane.kpi.service_level import recorded_service_level

Stats = Mapping[str, tuple[int, int, int, int]]
Stat = Literal["count", "sum", "min", "max", "avg"]
Unit = Literal["ms", "s", "min"]
Number = int | float
_UNIT_MS: dict[str, int] = {"ms": 1, "s": 1000, "min": 60_000}
_STAT_INDEX = {"count": 0, "sum": 1, "min": 2, "max": 3}
_KNOWN = frozenset((*m.COUNT_METRICS, *m.DURATION_METRICS))


@dataclass(frozen=True, slots=True)
class RowContext:
    """What a derived KPI may read besides the stats: the row's dimension."""

    queue_id: str
    media_type: str


@dataclass(frozen=True, slots=True)
class DerivedKpi:
    description: str
    duration: bool
    compute: Callable[[Stats, RowContext], float | None]


def _get(stats: Stats, metric: str, stat: str) -> int:
    values = stats.get(metric)
    return values[_STAT_INDEX[stat]] if values else 0


def _div(num: float, den: float) -> float | None:
    return num / den if den else None


def _sl_pct(stats: Stats, _ctx: RowContext) -> float | None:
    num, den = _sl_parts(stats)
    return 100 * num / den if den > 0 else None


def _sl_parts(stats: Stats) -> tuple[int, int]:
    """oServiceLevel's numerator and denominator as frozen into the stats, the org's switches
    applied once upstream (:mod:`streamvane.kpi.service_level`); (0, 0) when it has none."""
    return recorded_service_level(stats) or (0, 0)


DERIVED: dict[str, DerivedKpi] = {
    "aht": DerivedKpi(
        "average handle time: tHandle.sum / tHandle.count",
        True,
        lambda s, _: _div(_get(s, m.T_HANDLE, "sum"), _get(s, m.T_HANDLE, "count")),
    ),
    "asa": DerivedKpi(
        "average speed of answer: tAnswered.sum / tAnswered.count",
        True,
        lambda s, _: _div(_get(s, m.T_ANSWERED, "sum"), _get(s, m.T_ANSWERED, "count")),
    ),
    "service_level_pct": DerivedKpi(
        "oServiceLevel × 100 (Genesys formula and switches)",
        False,
        _sl_pct,
    ),
    "answered_within_sl": DerivedKpi(
        "oServiceLevel numerator: tAnswered.count − nOverSla.count",
        False,
        lambda s, _: float(_sl_parts(s)[0]),
    ),
    "service_level_denominator": DerivedKpi(
        "oServiceLevel denominator with the org's switches", False, lambda s, _: float(_sl_parts(s)[1])
    ),
    "abandon_rate_pct": DerivedKpi(
        "tAbandon.count / nOffered.count × 100",
        False,
        lambda s, _: _div(100 * _get(s, m.T_ABANDON, "count"), _get(s, m.N_OFFERED, "count")),
    ),
    "total_handle": DerivedKpi(
        "tHandle.sum (talk + hold + ACW), a duration", True, lambda s, _: float(_get(s, m.T_HANDLE, "sum"))
    ),
}


class MetricRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str
    stat: Stat = "count"

    @model_validator(mode="after")
    def _known(self) -> Self:
        _check_metric(self.metric, self.stat)
        return self

    def value(self, stats: Stats) -> float | None:
        return _stat_value(stats, self.metric, self.stat)


def _stat_value(stats: Stats, metric: str, stat: str) -> float | None:
    if stat == "avg":
        return _div(_get(stats, metric, "sum"), _get(stats, metric, "count"))
    return float(_get(stats, metric, stat))


class Ratio(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    numerator: MetricRef
    denominator: MetricRef
    scale: float = Field(1.0, description="e.g. 100 for a percentage")


class FieldSpec(BaseModel):
    """One output field of a row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    metric: str | None = None
    stat: Stat | None = None
    derived: str | None = None
    ratio: Ratio | None = None
    unit: Unit | None = Field(None, description="Durations only: ms (default), s or min.")
    decimals: int = Field(0, ge=0, le=6)
    when_empty: Literal["null", "zero"] = "null"
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        sources = [self.metric is not None, self.derived is not None, self.ratio is not None]
        if sum(sources) != 1:
            raise ValueError("exactly one of 'metric', 'derived' or 'ratio' is required")
        if self.metric is not None:
            _check_metric(self.metric, self.stat or "count")
        if self.derived is not None and self.derived not in DERIVED:
            raise ValueError(f"unknown derived KPI {self.derived!r}; known: {sorted(DERIVED)}")
        if self.stat is not None and self.metric is None:
            raise ValueError("'stat' applies to 'metric' only")
        if self.unit not in (None, "ms") and not self.is_duration:
            raise ValueError(f"field {self.name!r} is not a duration; 'unit' does not apply")
        return self

    @property
    def is_duration(self) -> bool:
        if self.metric is not None:
            return self.metric in m.DURATION_METRICS and (self.stat or "count") != "count"
        if self.derived is not None:
            return DERIVED[self.derived].duration
        return False

    @property
    def may_be_empty(self) -> bool:
        """Whether the value can be undefined (and so null when ``when_empty`` is null)."""
        if self.ratio is not None or self.stat == "avg":
            return True
        return self.derived in ("aht", "asa", "service_level_pct", "abandon_rate_pct")

    def evaluate(self, stats: Stats, ctx: RowContext) -> Number | None:
        raw: float | None
        if self.metric is not None:
            raw = _stat_value(stats, self.metric, self.stat or "count")
        elif self.derived is not None:
            raw = DERIVED[self.derived].compute(stats, ctx)
        else:
            assert self.ratio is not None
            num, den = self.ratio.numerator.value(stats), self.ratio.denominator.value(stats)
            raw = None if num is None or not den else num / den * self.ratio.scale
        if raw is None:
            return None if self.when_empty == "null" else 0
        if self.is_duration:
            raw /= _UNIT_MS[self.unit or "ms"]
        return round_half_up(raw, self.decimals)


Evaluator = Callable[[Stats, RowContext], Number | None]


def compile_field(spec: FieldSpec) -> Evaluator:
    """``spec.evaluate`` as a closure, for rendering many rows: a plain integer stat (a count, or a
    sum/min/max kept in ms) is read with no maths and no model attribute lookups."""
    stat = spec.stat or "count"
    if spec.metric is not None and stat != "avg" and (spec.unit in (None, "ms") or not spec.is_duration):
        metric, index = spec.metric, _STAT_INDEX[stat]

        def plain(stats: Stats, _ctx: RowContext) -> Number | None:
            values = stats.get(metric)
            return values[index] if values else 0

        return plain
    return spec.evaluate


def round_half_up(value: float, decimals: int) -> Number:
    """Commercial rounding of the decimal text of ``value`` (2.675 → 2.68, not 2.67)."""
    if decimals == 0 and value.is_integer():
        return int(value)
    quantum = Decimal(1).scaleb(-decimals)
    rounded = Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    return int(rounded) if decimals == 0 else float(rounded)


def _check_metric(metric: str, stat: str) -> None:
    if metric not in _KNOWN:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(_KNOWN)}")
    if metric in m.COUNT_METRICS and stat not in ("count",):
        raise ValueError(f"{metric} is a count; only stat 'count' applies")
