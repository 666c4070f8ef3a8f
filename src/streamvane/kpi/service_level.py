"""Genesys' oServiceLevel, the one rule (``genesys-reference.md`` §2.3).

numerator = tAnswered.count − nOverSla.count. The denominator starts from the answered count and
applies the org's three switches: *include abandons* adds tAbandon.count (which includes short
abandons), *include short abandons* off then takes tShortAbandon.count back out, and *include
flow-outs* adds tFlowOut.count (flow-outs count as misses). ratio = numerator / denominator;
with a zero denominator Genesys reports no oServiceLevel row, and neither do we.

The rule is applied once, where an interval's stats are frozen: the worker writes the result
into each feed record as the ``oServiceLevel`` stat (as ``compute`` writes it into its aggregates
response), so the dispatcher, a replay and a reconciliation read numerator and denominator and
never apply switches of their own. In a stats mapping (metric → (count, sum, min, max)) the
``oServiceLevel`` entry holds ``count = denominator`` and ``sum = numerator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streamvane.kpi import metrics as m

StatTuple = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class ServiceLevelRule:
    """The org's three service-level switches (Genesys defaults: abandons and short abandons in
    the denominator, flow-outs not)."""

    include_abandons: bool = True
    include_short_abandons: bool = True
    include_flow_outs: bool = False

    def parts(self, stats: Mapping[str, StatTuple]) -> tuple[int, int]:
        """(numerator, denominator) from the interval's counts."""

        def count(metric: str) -> int:
            values = stats.get(metric)
            return values[0] if values else 0

        answered = count(m.T_ANSWERED)
        denominator = answered
        if self.include_abandons:
            denominator += count(m.T_ABANDON)
            if not self.include_short_abandons:
                denominator -= count(m.T_SHORT_ABANDON)
        if self.include_flow_outs:
            denominator += count(m.T_FLOW_OUT)
        return answered - count(m.N_OVER_SLA), denominator


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    numerator: int
    denominator: int
    target: float

    @property
    def ratio(self) -> float:
        return self.numerator / self.denominator


def with_service_level(stats: Mapping[str, StatTuple], rule: ServiceLevelRule) -> dict[str, StatTuple]:
    """``stats`` plus the ``oServiceLevel`` entry the rule gives (none for a zero denominator),
    metrics in Genesys' alphabetical order. Stats that already hold one are returned as they are:
    the rule is applied once."""
    out = dict(stats)
    if m.O_SERVICE_LEVEL not in out:
        numerator, denominator = rule.parts(stats)
        if denominator > 0:
            out[m.O_SERVICE_LEVEL] = (denominator, numerator, 0, 0)
    return {name: out[name] for name in sorted(out)}


def recorded_service_level(stats: Mapping[str, StatTuple]) -> tuple[int, int] | None:
    """(numerator, denominator) as frozen into ``stats``; None when there is no oServiceLevel
    (a zero denominator)."""
    values = stats.get(m.O_SERVICE_LEVEL)
    return (values[1], values[0]) if values else None


def service_level(stats: Mapping[str, StatTuple], target: float) -> ServiceLevel | None:
    """Genesys' oServiceLevel row of stats that carry it (see :func:`with_service_level`)."""
    parts = recorded_service_level(stats)
    return ServiceLevel(parts[0], parts[1], target) if parts else None
