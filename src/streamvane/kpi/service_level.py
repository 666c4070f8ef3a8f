"""Genesys' oServiceLevel from an interval's accumulator (``genesys-reference.md`` §2.3).

numerator = tAnswered.count − nOverSla.count. The denominator starts from the answered count and
applies the org's three switches: *include abandons* adds tAbandon.count (which includes short
abandons), *include short abandons* off then takes tShortAbandon.count back out, and *include
flow-outs* adds tFlowOut.count (flow-outs count as misses). ratio = numerator / denominator;
with a zero denominator Genesys reports no oServiceLevel row, and neither do we.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamvane.kpi import metrics as m
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    numerator: int
    denominator: int
    target: float

    @property
    def ratio(self) -> float:
        return self.numerator / self.denominator


def service_level(acc: IntervalAccumulator, config: KpiConfig, target: float) -> ServiceLevel | None:
    answered = acc.count(m.T_ANSWERED)
    denominator = answered
    if config.sl_include_abandons:
        denominator += acc.count(m.T_ABANDON)
        if not config.sl_include_short_abandons:
            denominator -= acc.count(m.T_SHORT_ABANDON)
    if config.sl_include_flow_outs:
        denominator += acc.count(m.T_FLOW_OUT)
    if denominator <= 0:
        return None
    return ServiceLevel(answered - acc.count(m.N_OVER_SLA), denominator, target)
