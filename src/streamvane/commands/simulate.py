"""``streamvane simulate``: a simulated day of Genesys events, written as JSON lines or produced to
the event topic (``--to-kafka``, paced by ``--speedup``: the compose stack's event source)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import orjson

from streamvane.commands.progress import Progress
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid, parse_instant
from streamvane.simulator.contact_center import Conversation, simulate
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
    p.add_argument(
        "--start", default="2026-11-02T08:00:00Z", help="first instant, ISO-8601 with offset, or 'now'"
    )
    p.add_argument("--out", default="-", help="output file, or - for stdout")
    p.add_argument("--reorder-ms", type=int, default=0, help="deliver events up to this much out of order")
    p.add_argument("--duplicate-rate", type=float, default=0.0, help="fraction of events delivered twice")
    p.add_argument("--bare", action="store_true", help="bare detail objects instead of EventBridge envelopes")
    p.add_argument("--truth", type=Path, help="also write the ground-truth KPIs (aggregates-response JSON)")
    p.add_argument("--granularity", default="PT15M", help="interval length of --truth")
    p.add_argument("--time-zone", default="UTC", help="IANA zone the --truth intervals align to")
    p.add_argument(
        "--to-kafka",
        action="store_true",
        help="produce the events to the event topic (settings kafka.*, topics.events), keyed by "
        "conversationId, instead of writing them",
    )
    p.add_argument(
        "--post",
        metavar="URL",
        help="POST the events to a `streamvane ingest` endpoint (NDJSON batches) instead of writing them",
    )
    p.add_argument("--batch", type=int, default=100, help="with --post: events per request")
    p.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="with --post: the environment variable holding the API key (sent as x-api-key)",
    )
    p.add_argument(
        "--speedup",
        type=float,
        default=0.0,
        help="with --to-kafka or --post: simulated seconds per real second (1: live; 0: as fast as possible)",
    )
    p.set_defaults(handler=run)


def _start_ms(text: str) -> int:
    """``now``: the current minute (UTC), so a live feed's intervals are today's."""
    if text == "now":
        return time.time_ns() // 60_000_000_000 * 60_000
    return parse_instant(text)


def run(args: argparse.Namespace) -> int:
    spec = SimulationSpec(
        agents=args.agents,
        hours=args.hours,
        seed=args.seed,
        start_ms=_start_ms(args.start),
        reorder_ms=args.reorder_ms,
        duplicate_rate=args.duplicate_rate,
        envelope=not args.bare,
    )
    progress = Progress("simulate: conversations")
    conversations = simulate(spec, progress.update)
    progress.update(len(conversations), force=True)
    if args.to_kafka:
        return _to_kafka(spec, conversations, args.speedup)
    if args.post:
        return _post(args, spec, conversations)
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


def _to_kafka(spec: SimulationSpec, conversations: list[Conversation], speedup: float) -> int:
    from streamvane.broker.preflight import open_kafka
    from streamvane.broker.topics import ensure_topics
    from streamvane.commands.event_feed import Clock, produce_paced
    from streamvane.settings import Settings

    settings = Settings()
    kafka = open_kafka(settings.kafka)
    ensure_topics(settings, kafka)
    clock = Clock(spec.start_ms, speedup if speedup > 0 else float("inf"), time.time_ns() // 1_000_000)
    stop = threading.Event()
    sys.stderr.write(
        f"simulate: producing to {settings.topics.events} on {kafka.describe()}"
        f"{f' at x{speedup:g}' if speedup > 0 else ''}\n"
    )
    produced = produce_paced(kafka, settings.topics.events, spec, conversations, clock, stop)
    sys.stderr.write(f"simulate: {produced} events produced\n")
    return 0


def _post(args: argparse.Namespace, spec: SimulationSpec, conversations: list[Conversation]) -> int:
    import asyncio
    import os

    from streamvane.commands.event_feed import Clock
    from streamvane.commands.event_post import PostTarget, post_paced

    headers = {}
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "")
        if not key:
            sys.stderr.write(f"simulate: --api-key-env {args.api_key_env}: the variable is not set\n")
            return 2
        headers["x-api-key"] = key
    target = PostTarget(args.post, headers, batch=args.batch)
    speedup = args.speedup if args.speedup > 0 else float("inf")
    clock = Clock(spec.start_ms, speedup, time.time_ns() // 1_000_000)
    sys.stderr.write(f"simulate: posting to {args.post} in batches of {args.batch}\n")
    posted = asyncio.run(post_paced(target, spec, conversations, clock))
    sys.stderr.write(f"simulate: {posted} events posted\n")
    return 0
