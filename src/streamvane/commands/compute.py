"""``streamvane compute``: Genesys-shaped interval KPIs from an event file, offline."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from streamvane.commands.progress import Progress
from streamvane.genesys.events import Rejection
from streamvane.genesys.lines import OversizedLine, read_lines
from streamvane.kpi.aggregates_response import aggregates_response
from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig, ServiceLevelTarget, load_kpi_config
from streamvane.kpi.intervals import Granularity, IntervalGrid


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compute",
        help="compute Genesys-shaped interval KPIs from a JSON-lines event file",
        description="Read Genesys conversation detail events (EventBridge envelopes or bare detail "
        "objects, one per line) and print a conversation-aggregates-shaped JSON document. "
        "Rejected lines go to stderr with their reasons.",
    )
    p.add_argument("--events", required=True, help="JSON-lines file, or - for stdin")
    p.add_argument("--granularity", default="PT15M", help="PT15M, PT30M or PT60M")
    p.add_argument("--time-zone", default="UTC", help="IANA zone the intervals align to")
    p.add_argument("--sl-duration-ms", type=int, help="default service-level threshold (ms)")
    p.add_argument("--sl-percentage", type=float, help="default service-level target (0-1)")
    p.add_argument("--short-abandon-ms", type=int, help="short-abandon threshold (ms)")
    p.add_argument("--kpi-config", type=Path, help="YAML/JSON KPI config (flags override it)")
    p.set_defaults(handler=run)


def _config(args: argparse.Namespace) -> KpiConfig:
    config = load_kpi_config(args.kpi_config) if args.kpi_config else KpiConfig()
    update: dict[str, object] = {}
    if args.sl_duration_ms is not None or args.sl_percentage is not None:
        sl = config.default_service_level
        update["default_service_level"] = ServiceLevelTarget(
            duration_ms=args.sl_duration_ms if args.sl_duration_ms is not None else sl.duration_ms,
            percentage=args.sl_percentage if args.sl_percentage is not None else sl.percentage,
        )
    if args.short_abandon_ms is not None:
        update["short_abandon_ms"] = args.short_abandon_ms
    return KpiConfig.model_validate({**config.model_dump(), **update})


def _lines(stream: BinaryIO, max_bytes: int, progress: Progress) -> Iterator[bytes | OversizedLine]:
    for number, line in enumerate(read_lines(stream, max_bytes), start=1):
        if number % 50_000 == 0:
            progress.update(number)
        yield line


def run(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
        grid = IntervalGrid(Granularity.parse(args.granularity), args.time_zone)
    except ValueError as exc:
        sys.stderr.write(f"compute: {exc}\n")
        return 2

    def rejected(number: int, line: bytes, rejection: Rejection) -> None:
        sys.stderr.write(f"rejected line {number}: {rejection.reason}: {rejection.detail}\n")

    progress = Progress("compute: lines read")
    try:
        stream = sys.stdin.buffer if args.events == "-" else Path(args.events).open("rb")  # noqa: SIM115
    except OSError as exc:
        sys.stderr.write(f"compute: cannot read {args.events}: {exc.strerror}\n")
        return 1
    parser = config.event_parser()
    with stream:
        now_ms = time.time_ns() // 1_000_000
        lines = _lines(stream, parser.max_bytes, progress)
        aggregator, report = compute(lines, grid, config, now_ms, rejected, parser)
    doc = aggregates_response(aggregator.cells, grid, config)
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    sys.stdout.buffer.write(b"\n")
    summary = {
        "lines": report.lines,
        "events": report.events,
        "rejected": dict(report.rejected),
        "ignored": dict(report.ignored),
        "correlation": report.correlation.as_dict(),
    }
    sys.stderr.write(f"compute: summary {orjson.dumps(summary).decode()}\n")
    return 0
