"""The KPI mapping matrix: one row's Genesys metric stats in, the exact payload values out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from streamvane.feeds.mapping import FieldSpec, RowContext, round_half_up
from streamvane.kpi.service_level import ServiceLevelRule, with_service_level

CTX = RowContext("q1", "voice")
# A quarter hour: 4 offered; 3 answered (waits 5 s, 12 s, 31 s → one over the 20 s SL target);
# 1 abandoned after 4 s (short); 2 handled (300 s and 241.5 s).
COUNTS = {
    "nOffered": (4, 4, 1, 1),
    "tAnswered": (3, 48_000, 5_000, 31_000),
    "nOverSla": (1, 1, 1, 1),
    "tAbandon": (1, 4_000, 4_000, 4_000),
    "tShortAbandon": (1, 4_000, 4_000, 4_000),
    "tHandle": (2, 541_500, 241_500, 300_000),
}
# As the worker freezes it into the record: the service level under Genesys' default switches.
STATS = with_service_level(COUNTS, ServiceLevelRule())


def value(**spec: object) -> object:
    return FieldSpec.model_validate({"name": "f", **spec}).evaluate(STATS, CTX)


def test_metric_stats_and_unit_conversion() -> None:
    assert value(metric="nOffered") == 4
    assert value(metric="tAnswered", stat="sum", unit="s") == 48
    assert value(metric="tAnswered", stat="max", unit="s", decimals=1) == 31.0
    assert value(metric="tAnswered", stat="avg", unit="s", decimals=2) == 16.0
    assert value(metric="tHandle", stat="sum", unit="min", decimals=3) == 9.025


def test_derived_kpis_are_defined_once_with_genesys_formulas() -> None:
    assert value(derived="aht", unit="s", decimals=2) == 270.75
    assert value(derived="asa", unit="s") == 16
    # SL numerator 3 − 1 = 2; denominator 3 answered + 1 abandon (short abandons included) = 4.
    assert value(derived="service_level_pct", decimals=1) == 50.0
    assert value(derived="answered_within_sl") == 2
    assert value(derived="service_level_denominator") == 4
    assert value(derived="abandon_rate_pct") == 25
    assert value(derived="total_handle", unit="s", decimals=1) == 541.5


def test_the_switches_frozen_into_the_stats_decide_the_service_level() -> None:
    spec = FieldSpec(name="sl", derived="service_level_pct", decimals=2)
    no_short = with_service_level(COUNTS, ServiceLevelRule(include_short_abandons=False))
    assert no_short["oServiceLevel"] == (3, 2, 0, 0)  # count = denominator, sum = numerator
    assert spec.evaluate(no_short, CTX) == pytest.approx(66.67)
    answered_only = with_service_level(COUNTS, ServiceLevelRule(include_abandons=False))
    assert spec.evaluate(answered_only, CTX) == pytest.approx(66.67)


def test_the_rule_is_applied_once_a_frozen_service_level_is_kept() -> None:
    frozen = with_service_level(COUNTS, ServiceLevelRule(include_short_abandons=False))
    assert with_service_level(frozen, ServiceLevelRule()) == frozen
    assert list(frozen) == sorted(frozen), "metrics stay in Genesys' alphabetical order"


def test_genesys_own_numerator_and_denominator_are_used_as_they_are() -> None:
    genesys = {**COUNTS, "oServiceLevel": (10, 9, 0, 0)}  # whatever Genesys' org switches gave
    assert FieldSpec(name="sl", derived="service_level_pct").evaluate(genesys, CTX) == 90
    assert FieldSpec(name="d", derived="service_level_denominator").evaluate(genesys, CTX) == 10


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.booleans())
def test_the_service_level_rule_matches_genesys_definition(
    answered: int, over: int, abandons: int, flow_outs: int, include_short: bool
) -> None:
    over, short = min(over, answered), abandons // 2
    counts = {
        "tAnswered": (answered, 0, 0, 0),
        "nOverSla": (over, 0, 0, 0),
        "tAbandon": (abandons, 0, 0, 0),
        "tShortAbandon": (short, 0, 0, 0),
        "tFlowOut": (flow_outs, 0, 0, 0),
    }
    rule = ServiceLevelRule(include_short_abandons=include_short, include_flow_outs=True)
    assert rule.parts(counts) == (
        answered - over,
        answered + abandons - (0 if include_short else short) + flow_outs,
    )


def test_ratio_field() -> None:
    ratio = {"numerator": {"metric": "tAbandon"}, "denominator": {"metric": "nOffered"}, "scale": 100}
    assert value(ratio=ratio, decimals=1) == 25.0


def test_quiet_row_counts_are_zero_and_averages_follow_when_empty() -> None:
    quiet: dict[str, tuple[int, int, int, int]] = {}
    assert FieldSpec(name="o", metric="nOffered").evaluate(quiet, CTX) == 0
    assert FieldSpec(name="a", derived="aht").evaluate(quiet, CTX) is None
    assert FieldSpec(name="a", derived="aht", when_empty="zero").evaluate(quiet, CTX) == 0
    assert FieldSpec(name="s", derived="service_level_pct").evaluate(quiet, CTX) is None


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"metric": "nOfered"}, "unknown metric 'nOfered'"),
        ({"metric": "nOffered", "stat": "sum"}, "only stat 'count'"),
        ({"metric": "nOffered", "unit": "s"}, "not a duration"),
        ({"derived": "aht", "metric": "tHandle"}, "exactly one of"),
        ({"derived": "happiness"}, "unknown derived KPI"),
    ],
)
def test_bad_mappings_are_refused_with_the_reason(spec: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        FieldSpec.model_validate({"name": "f", **spec})


def test_rounding_is_half_up_on_the_decimal_text() -> None:
    assert round_half_up(2.675, 2) == 2.68
    assert round_half_up(0.5, 0) == 1
    assert round_half_up(1.5, 0) == 2


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_avg_duration_in_seconds_is_within_half_a_unit(total_s: int, count: int) -> None:
    stats = {"tHandle": (count, total_s * 1000, 0, total_s * 1000)}
    got = FieldSpec(name="aht", derived="aht", unit="s").evaluate(stats, CTX)
    assert isinstance(got, int)
    assert abs(got - total_s / count) <= 0.5
