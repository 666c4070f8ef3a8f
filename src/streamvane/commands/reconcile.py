"""``streamvane reconcile``: what we delivered against Genesys' own numbers, per interval,
dimension and payload field, within the profile's tolerances (:mod:`streamvane.feeds.reconcile`).

Ours is an aggregates-query response file (``streamvane compute`` prints one), or ``--feed``: the
live records of the compacted feed-record topic. Theirs is Genesys' response to
``conversations/aggregates/query``: a file, or ``live``, fetched with the ``genesys:`` settings
(:mod:`streamvane.clients.genesys_analytics`). Exit 0: everything within tolerance; 1: something
is out; 2: usage or input errors (a range off the profile's grid, missing credentials, an API that
refuses).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from confluent_kafka import KafkaException

from streamvane.broker.preflight import open_kafka
from streamvane.clients.genesys_analytics import GenesysAnalytics, GenesysApiError
from streamvane.feeds.mapping import Stats
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.reconcile import (
    AggregatesError,
    CellKey,
    ReconciledCell,
    parse_aggregates,
    reconcile,
    records_as_cells,
    summary,
)
from streamvane.kpi.intervals import format_instant, parse_instant
from streamvane.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reconcile",
        help="compare delivered KPIs with Genesys' aggregates within the profile's tolerances",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", required=True, help="feed profile id (its fields and tolerances)")
    p.add_argument("--from", dest="from_", required=True, help="ISO-8601 instant with offset (inclusive)")
    p.add_argument("--to", required=True, help="ISO-8601 instant with offset (exclusive)")
    ours = p.add_mutually_exclusive_group(required=True)
    ours.add_argument("--ours", type=Path, help="our aggregates response (JSON file)")
    ours.add_argument("--feed", action="store_true", help="ours: the live records of the feed-record topic")
    p.add_argument(
        "--genesys",
        required=True,
        help="Genesys' aggregates response: a JSON file, or 'live' to query the API (genesys: settings)",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()  # invalid settings: the CLI reports them without their values
    try:
        profile = settings.profile(args.profile)
        from_ms, to_ms = parse_instant(args.from_), parse_instant(args.to)
        ours = _feed(settings, profile.id) if args.feed else parse_aggregates(_load(args.ours))
        theirs = parse_aggregates(
            _live(settings, profile, from_ms, to_ms) if args.genesys == "live" else _load(Path(args.genesys))
        )
    except (KeyError, ValueError, OSError, KafkaException, GenesysApiError) as exc:
        sys.stderr.write(f"reconcile: {exc}\n")
        return 2
    cells = reconcile(profile, ours, theirs, from_ms, to_ms)
    counts = summary(cells)
    if args.format == "json":
        doc = {"profile": profile.id, "from": format_instant(from_ms), "to": format_instant(to_ms), **counts}
        doc["cells"] = [c.as_json() for c in cells]
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _table([c for c in cells if c.verdict == "out"], counts)
    return 1 if counts["out"] else 0


def _feed(settings: Settings, profile_id: str) -> dict[CellKey, Stats]:
    from streamvane.commands.replay import existing_records
    from streamvane.records.avro import AvroCodec

    live = existing_records(open_kafka(settings.kafka), settings.topics.feed_records, AvroCodec())
    return records_as_cells(live.values(), profile_id)


def _live(settings: Settings, profile: FeedProfile, from_ms: int, to_ms: int) -> dict[str, Any]:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def fetch() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            client = GenesysAnalytics(settings.genesys, session)
            return await client.aggregates(profile, from_ms, to_ms)

    return asyncio.run(fetch())


def _load(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise AggregatesError(f"{path}: not JSON: {exc}") from exc


def _table(out: list[ReconciledCell], counts: dict[str, int]) -> None:
    write = sys.stdout.write
    if out:
        head = ("interval", "queue", "media", "field", "ours", "theirs", "allowed")
        write("{:<50} {:<38} {:<8} {:<24} {:>12} {:>12} {:>10}\n".format(*head))
        for c in out:
            interval = f"{format_instant(c.interval_start_ms)}/{format_instant(c.interval_end_ms)}"
            write(
                f"{interval:<50} {c.queue_id:<38} {c.media_type:<8} {c.field:<24} {_num(c.ours):>12} "
                f"{_num(c.theirs):>12} {c.tolerance:>10.3g}\n"
            )
    total = counts["ok"] + counts["out"]
    write(f"reconcile: {total} cells, {counts['ok']} within tolerance, {counts['out']} out\n")


def _num(value: float | None) -> str:
    return "null" if value is None else f"{value:.6g}"
