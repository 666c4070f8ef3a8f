"""The simulator's ground truth (from its facts) equals `compute` on its events (parsed, correlated)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth

NOW = 2**62


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    granularity=st.sampled_from(list(Granularity)),
    tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kathmandu"]),
    reorder_ms=st.sampled_from([0, 30_000, 110_000]),
    duplicate_rate=st.sampled_from([0.0, 0.2]),
    envelope=st.booleans(),
)
def test_truth_equals_compute_for_random_days(
    seed: int, granularity: Granularity, tz: str, reorder_ms: int, duplicate_rate: float, envelope: bool
) -> None:
    spec = SimulationSpec(
        agents=25,
        hours=1.5,
        seed=seed,
        reorder_ms=reorder_ms,
        duplicate_rate=duplicate_rate,
        envelope=envelope,
    )
    config = KpiConfig()  # its reorder tolerance (120 s) covers the delivery jitter
    grid = IntervalGrid(granularity, tz)
    conversations = simulate(spec)
    lines = [line for _, line in delivery(spec, conversations)]
    computed, report = compute(lines, grid, config, NOW)
    truth = ground_truth(conversations, grid, config)
    assert computed.snapshot() == truth.snapshot()
    assert report.rejected == {}
    assert truth.snapshot(), "the simulated day produced no KPIs"
    counts = report.correlation.as_dict()
    informational = {"duplicates", "handle_at_user_end", "handle_moved_to_acw"}
    assert {k: v for k, v in counts.items() if k not in informational and v} == {}


def test_same_seed_same_bytes_and_a_realistic_mix() -> None:
    spec = SimulationSpec(agents=40, hours=2, seed=11, duplicate_rate=0.05, reorder_ms=5_000)
    first = [line for _, line in delivery(spec, simulate(spec))]
    second = [line for _, line in delivery(spec, simulate(spec))]
    assert first == second
    grid = IntervalGrid(Granularity.PT30M)
    truth = ground_truth(simulate(spec), grid, KpiConfig())
    doc = aggregates_response(truth.cells, grid, KpiConfig())
    seen = {row["metric"] for group in doc["results"] for data in group["data"] for row in data["metrics"]}
    assert seen >= {
        "nOffered",
        "tAnswered",
        "tAbandon",
        "tShortAbandon",
        "tFlowOut",
        "tHeldComplete",
        "nTransferred",
        "tAcw",
        "tHandle",
        "oServiceLevel",
    }
    topics = {orjson.loads(line)["detail-type"].rsplit("}.", 1)[1] for line in first}
    assert topics == {
        "customer.start",
        "customer.end",
        "flow.start",
        "flow.end",
        "acd.start",
        "acd.end",
        "user.start",
        "user.end",
        "acw",
    }
    assert {g["group"]["mediaType"] for g in doc["results"]} == {"voice", "chat", "message"}
