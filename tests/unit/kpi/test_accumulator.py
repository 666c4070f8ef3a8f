"""Merge laws of the interval accumulator: the tables may combine partial states in any order."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from streamvane.kpi import metrics as m
from streamvane.kpi.accumulator import IntervalAccumulator, merge_all

observations = st.lists(
    st.tuples(st.sampled_from(m.COUNT_METRICS + m.DURATION_METRICS), st.integers(0, 10**9)), max_size=30
)


def build(obs: list[tuple[str, int]]) -> IntervalAccumulator:
    acc = IntervalAccumulator()
    for metric, value in obs:
        acc.add(metric, value)
    return acc


@given(observations, observations, observations)
def test_merge_is_associative(
    a: list[tuple[str, int]], b: list[tuple[str, int]], c: list[tuple[str, int]]
) -> None:
    x, y, z = build(a), build(b), build(c)
    assert x.merged(y).merged(z).snapshot() == x.merged(y.merged(z)).snapshot()


@given(observations, observations)
def test_merge_is_commutative(a: list[tuple[str, int]], b: list[tuple[str, int]]) -> None:
    assert build(a).merged(build(b)).snapshot() == build(b).merged(build(a)).snapshot()


@given(observations)
def test_empty_accumulator_is_the_identity(a: list[tuple[str, int]]) -> None:
    assert build(a).merged(IntervalAccumulator()).snapshot() == build(a).snapshot()
    assert IntervalAccumulator().merged(build(a)).snapshot() == build(a).snapshot()


@given(observations, st.lists(st.integers(0, 30), max_size=4))
def test_any_split_merges_back_to_the_whole(obs: list[tuple[str, int]], cuts: list[int]) -> None:
    points = sorted({0, len(obs), *(min(c, len(obs)) for c in cuts)})
    parts = [build(obs[i:j]) for i, j in itertools.pairwise(points)]
    whole = build(obs).snapshot()
    assert merge_all(parts).snapshot() == whole
    if obs:
        metric = obs[0][0]
        values = [v for name, v in obs if name == metric]
        assert whole[metric] == (len(values), sum(values), min(values), max(values))


@given(observations)
def test_snapshot_round_trips(obs: list[tuple[str, int]]) -> None:
    snap = build(obs).snapshot()
    assert IntervalAccumulator.from_snapshot(snap).snapshot() == snap
