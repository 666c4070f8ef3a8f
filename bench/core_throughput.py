"""Throughput of the pure KPI core on one core: parse + correlate + accumulate, against the
orjson parse alone as the ceiling. Input: a simulated 8-hour day of 500 agents (EventBridge
envelopes). Target (issue 3): at least 150,000 events/s for the core.

Measured with the GC thresholds ``streamvane`` sets at start-up (``streamvane/runtime.py``); the
last row shows the core with CPython's defaults for comparison.

Run: ``make bench`` or ``python -m bench.core_throughput [--runs N]``.
"""

from __future__ import annotations

import argparse

import orjson

from bench.report import emit, repeat, summarise
from streamvane.genesys.parse import EventParser
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.runtime import tune_gc_for_throughput
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec

TARGET = 150_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--hours", type=float, default=8.0)
    args = parser.parse_args()
    spec = SimulationSpec(agents=args.agents, hours=args.hours, seed=7)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    now = 2**62
    event_parser = EventParser()

    def orjson_only() -> int:
        for line in lines:
            orjson.loads(line)
        return len(lines)

    def parse_only() -> int:
        for line in lines:
            event_parser.parse(line, now)
        return len(lines)

    def core() -> int:
        compute(lines, IntervalGrid(Granularity.PT15M, "Europe/Berlin"), KpiConfig(), now)
        return len(lines)

    default_gc = summarise(repeat(args.runs, core))
    tune_gc_for_throughput()  # what `streamvane` applies at start-up (streamvane/runtime.py)
    ceiling = summarise(repeat(args.runs, orjson_only))
    parsing = summarise(repeat(args.runs, parse_only))
    full = summarise(repeat(args.runs, core))
    rows = [
        {"stage": "orjson.loads (ceiling)", **ceiling},
        {"stage": "parse (orjson + validation)", **parsing},
        {"stage": "core (parse + correlate + accumulate)", **full},
        {"stage": "core with CPython's default GC thresholds", **default_gc},
    ]
    emit(
        "core_throughput",
        rows,
        {
            "events": len(lines),
            "runs": args.runs,
            "core_to_ceiling_ratio_median": full["median"] / ceiling["median"],
            "target_events_per_s": TARGET,
            "target_met_median": full["median"] >= TARGET,
        },
    )


if __name__ == "__main__":
    main()
