"""``streamvane sla report``: whether a profile met its on-time promise over a range, per day and
in total, with every late or missing interval and its cause (:mod:`streamvane.feeds.sla`).

Reads the delivery ledger (every outcome and attempt) and the feed-record topic (which intervals
were emitted at all). Exit 0: the target is met over the range; 1: it is missed; 2: usage or
input errors.
"""

from __future__ import annotations

import argparse
import sys
import time

import orjson
from confluent_kafka import KafkaException

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.preflight import open_kafka
from streamvane.broker.topic_reader import read_to_end
from streamvane.feeds.sla import SlaReport, judge, outcomes_from_ledger
from streamvane.kpi.intervals import format_instant, parse_instant
from streamvane.records.feed_record import parse_compaction_key
from streamvane.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sla", help="SLA acceptance of a profile's deliveries")
    verbs = p.add_subparsers(dest="verb", required=True)
    r = verbs.add_parser(
        "report",
        help="on-time ratio per day and over the range, with each late or missing interval's cause",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--profile", required=True, help="feed profile id")
    r.add_argument("--from", dest="from_", required=True, help="ISO-8601 instant (first interval start)")
    r.add_argument("--to", required=True, help="ISO-8601 instant (exclusive)")
    r.add_argument("--as-of", help="judge as of this instant (default: now); later intervals are pending")
    r.add_argument("--format", choices=("table", "json"), default="table")
    r.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()  # invalid settings: the CLI reports them without their values
    try:
        profile = settings.profile(args.profile)
        from_ms, to_ms = parse_instant(args.from_), parse_instant(args.to)
        as_of_ms = parse_instant(args.as_of) if args.as_of else time.time_ns() // 1_000_000
        kafka = open_kafka(settings.kafka)
        entries = (
            orjson.loads(m.value() or b"{}") for m in read_to_end(kafka, settings.topics.delivery_ledger)
        )
        outcomes = outcomes_from_ledger(entries, profile.id)
        emitted = _emitted(kafka, settings.topics.feed_records, profile.id)
    except (KeyError, ValueError, KafkaException) as exc:
        sys.stderr.write(f"sla report: {exc}\n")
        return 2
    report = judge(profile, outcomes, emitted, from_ms, to_ms, as_of_ms)
    if args.format == "json":
        doc = {
            "from": format_instant(from_ms),
            "to": format_instant(to_ms),
            "as_of": format_instant(as_of_ms),
        }
        sys.stdout.write(
            orjson.dumps({**doc, **report.as_json()}, option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        _table(report)
    return 0 if report.total.met else 1


def _emitted(kafka: KafkaConnection, topic: str, profile_id: str) -> set[int]:
    """Interval starts of the profile that the feed topic holds a record for (from the keys)."""
    keys = (parse_compaction_key((msg.key() or b"").decode()) for msg in read_to_end(kafka, topic))
    return {key[1] for key in keys if key is not None and key[0] == profile_id}


def _table(report: SlaReport) -> None:
    write = sys.stdout.write
    write(f"{'day':<12} {'intervals':>9} {'on time':>8} {'late':>5} {'missing':>8} {'ratio':>8}  target\n")
    for day in (*report.days, report.total):
        ratio = "-" if day.ratio is None else f"{100 * day.ratio:.2f}%"
        met = "met" if day.met else "MISSED"
        write(
            f"{day.label:<12} {day.intervals:>9} {day.on_time:>8} {day.late:>5} {day.missing:>8} {ratio:>8}  "
            f"{100 * report.target:g}% {met}\n"
        )
    for verdict in report.exceptions:
        late = (
            "" if verdict.delivered_ms is None else f" +{(verdict.delivered_ms - verdict.due_ms) / 1000:.0f}s"
        )
        write(f"  {verdict.state}{late} {format_instant(verdict.start_ms)}: {'; '.join(verdict.causes)}\n")
    if report.pending:
        write(f"  ({report.pending} intervals not yet due)\n")
