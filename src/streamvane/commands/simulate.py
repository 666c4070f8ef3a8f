"""``streamvane simulate``: write a simulated day of Genesys events as JSON lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from streamvane.commands.progress import Progress
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid, parse_instant
from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.simulator.truth import ground_truth


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="write a deterministic simulated contact-center event stream (JSON lines)",
        description="Simulate N agents over some hours; write Genesys conversation detail events "
        "(EventBridge envelopes by default) and, optionally, the ground-truth KPIs.",
    )
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2026-11-02T08:00:00Z", help="first instant, ISO-8601 with offset")
    p.add_argument("--out", default="-", help="output file, or - for stdout")
    p.add_argument("--reorder-ms", type=int, default=0, help="deliver events up to this much out of order")
    p.add_argument("--duplicate-rate", type=float, default=0.0, help="fraction of events delivered twice")
    p.add_argument("--bare", action="store_true", help="bare detail objects instead of EventBridge envelopes")
    p.add_argument("--truth", type=Path, help="also write the ground-truth KPIs (aggregates-response JSON)")
    p.add_argument("--granularity", default="PT15M", help="interval length of --truth")
    p.add_argument("--time-zone", default="UTC", help="IANA zone the --truth intervals align to")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    spec = SimulationSpec(
        agents=args.agents,
        hours=args.hours,
        seed=args.seed,
        start_ms=parse_instant(args.start),
        reorder_ms=args.reorder_ms,
        duplicate_rate=args.duplicate_rate,
        envelope=not args.bare,
    )
    progress = Progress("simulate: conversations")
    conversations = simulate(spec, progress.update)
    progress.update(len(conversations), force=True)
    writing = Progress("simulate: events written")
    out = sys.stdout.buffer if args.out == "-" else Path(args.out).open("wb")  # noqa: SIM115
    written = 0
    try:
        for _at, line in delivery(spec, conversations):
            out.write(line)
            out.write(b"\n")
            written += 1
            if written % 20_000 == 0:
                writing.update(written)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    writing.update(written, force=True)
    if args.truth:
        grid = IntervalGrid(Granularity.parse(args.granularity), args.time_zone)
        config = KpiConfig()
        truth = ground_truth(conversations, grid, config)
        doc = aggregates_response(truth.cells, grid, config)
        args.truth.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return 0
