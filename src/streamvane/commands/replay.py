"""``streamvane replay recompute``: recompute past intervals from the event topic's history.

Reads the input event topic from a lookback before ``--from`` up to its current end, runs the
events through the worker's own stage code in this process (a fresh state namespace: nothing the
running worker holds is touched, nothing is counted twice), and publishes to the feed topic only
intervals whose content changed (as restatements) or that were missing. ``--dry-run`` publishes
nothing and only reports.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator

from confluent_kafka import Producer

from streamvane.broker.connection import KafkaConnection
from streamvane.broker.preflight import open_kafka
from streamvane.broker.topic_reader import headers_of, history_start, read_to_end
from streamvane.commands.progress import Progress
from streamvane.kpi.intervals import format_instant, parse_instant
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = sub.add_parser("replay", help="recompute or re-deliver past intervals")
    verbs = replay.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("recompute", help="recompute intervals in [--from, --to) from the event topic")
    p.add_argument("--from", dest="from_", required=True, help="ISO-8601 instant, first interval start")
    p.add_argument("--to", required=True, help="ISO-8601 instant, end of the range (exclusive)")
    p.add_argument("--lookback", type=float, default=2.0, help="hours of events before --from to correlate")
    p.add_argument("--dry-run", action="store_true", help="report only; publish nothing")
    p.set_defaults(handler=run)
    d = verbs.add_parser(
        "deliver", help="re-deliver past intervals from the compacted feed topic (same idempotency keys)"
    )
    d.add_argument("--profile", required=True, help="feed profile id")
    d.add_argument("--from", dest="from_", required=True, help="ISO-8601 instant, first interval start")
    d.add_argument("--to", required=True, help="ISO-8601 instant, end of the range (exclusive)")
    d.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    add_limits(d)
    d.set_defaults(handler=run_deliver)


def add_limits(parser: argparse.ArgumentParser) -> None:
    """--timeout and --deadline-s, shared by replay deliver and dlq redrive."""
    parser.add_argument(
        "--timeout", type=float, help="stop after this many seconds; what is not sent stays as it was"
    )
    parser.add_argument(
        "--deadline-s",
        type=float,
        help="retry each record at most this long (default: the profile's delivery deadline)",
    )


def _read_topic(
    kafka: KafkaConnection, topic: str, from_ms: int, label: str
) -> Iterator[tuple[bytes, int | None]]:
    """(value, Kafka timestamp ms) of ``topic`` from the first record timestamped at/after
    ``from_ms`` to its current end. The timestamp bounds each event's time as in the worker."""
    progress = Progress(label)
    done_total = [0, 0]

    def shown(done: int, total: int) -> None:
        done_total[:] = [done, total]
        progress.update(done, total)

    for msg in read_to_end(kafka, topic, from_ms, shown):
        _, timestamp = msg.timestamp()
        yield msg.value() or b"", timestamp if timestamp > 0 else None
    progress.update(done_total[0], done_total[1], force=True)


def existing_records(kafka: KafkaConnection, topic: str, codec: AvroCodec) -> dict[str, FeedRecord]:
    """The live (latest) record per compaction key of the feed-record topic."""
    latest: dict[str, FeedRecord] = {}
    for msg in read_to_end(kafka, topic):
        record = codec.decode(msg.value() or b"", headers_of(msg)[FINGERPRINT_HEADER].decode())
        latest[record.compaction_key] = record
    return latest


def run(args: argparse.Namespace) -> int:
    from streamvane.stages.plan import base_grid, closing_policy
    from streamvane.stages.recompute import recompute, reconcile

    settings = Settings()
    if not settings.profiles:
        sys.stderr.write("replay: no feed profiles configured\n")
        return 2
    base = base_grid()
    from_ms, to_ms = parse_instant(args.from_), parse_instant(args.to)
    start_ms = base.start_of(from_ms - round(args.lookback * 3_600_000))
    closing = closing_policy(settings.profiles)
    tick_ms = to_ms + max(p.grace_ms for p in settings.profiles) + settings.worker.max_delivery_delay_ms
    kafka, codec = open_kafka(settings.kafka), AvroCodec()
    kept_from = history_start(kafka, settings.topics.events)
    if kept_from is not None and kept_from > start_ms:
        kept = "no history at all" if kept_from >= 2**62 else f"history only from {format_instant(kept_from)}"
        sys.stderr.write(
            f"replay: refused: the event topic {settings.topics.events} keeps {kept}, but recomputing "
            f"from {format_instant(from_ms)} needs events from {format_instant(start_ms)} (lookback "
            "included); a recompute from fewer events would restate correct intervals with smaller numbers\n"
        )
        return 2
    events = _read_topic(kafka, settings.topics.events, start_ms, "replay: events read")
    recomputed = recompute(
        events,
        settings.profiles,
        settings.kpi,
        base,
        closing,
        start_ms,
        tick_ms,
        settings.worker.max_delivery_delay_ms,
    )
    existing = existing_records(kafka, settings.topics.feed_records, codec)
    result = reconcile(recomputed, existing, from_ms, to_ms)
    sys.stdout.write(
        f"replay recompute {format_instant(from_ms)} – {format_instant(to_ms)}: "
        f"{len(result.unchanged)} unchanged, {len(result.restated)} restated, {len(result.new)} new"
        f"{' (dry run: nothing published)' if args.dry_run else ''}\n"
    )
    for record in [*result.restated, *result.new]:
        sys.stdout.write(
            f"  {record.profile_id} {format_instant(record.interval_start_ms)} revision {record.revision}\n"
        )
    if args.dry_run:
        return 0
    producer = Producer(kafka.config(**{"enable.idempotence": True}))
    header = [(FINGERPRINT_HEADER, codec.fingerprint.encode())]
    for record in [*result.restated, *result.new]:
        producer.produce(
            settings.topics.feed_records,
            key=record.compaction_key.encode(),
            value=codec.encode(record),
            headers=header,  # type: ignore[arg-type]
        )
    if producer.flush(60) != 0:
        sys.stderr.write("replay: not every record was acknowledged\n")
        return 1
    return 0


def computed_with(records: list[FeedRecord], current: str) -> str | None:
    """A replay sends what was computed. Says so when that differs from today's KPI settings,
    and returns the reason to refuse when a record does not say how it was computed."""
    unrecorded = [r for r in records if not r.kpi_fingerprint]
    if unrecorded:
        first = format_instant(unrecorded[0].interval_start_ms)
        return (
            f"replay deliver: refused: {len(unrecorded)} intervals (the first {first}) were written before "
            "feed records carried their KPI settings; delivering them would render an old computation "
            "with today's service-level switches. Run `streamvane replay recompute` over the range "
            "first, then deliver.\n"
        )
    other = Counter(r.kpi_fingerprint for r in records if r.kpi_fingerprint != current)
    for fingerprint, count in sorted(other.items()):
        sys.stderr.write(
            f"replay deliver: {count} intervals were computed with KPI settings {fingerprint} (today's: "
            f"{current}); they are delivered as computed. To deliver today's settings instead, run "
            "`streamvane replay recompute` over the range first.\n"
        )
    return None


def run_deliver(args: argparse.Namespace) -> int:
    from streamvane.commands.redeliver import Item, Limits, redeliver
    from streamvane.sinks.sender import Original

    settings = Settings()
    try:
        profile = settings.profile(args.profile)
        from_ms, to_ms = parse_instant(args.from_), parse_instant(args.to)
    except (KeyError, ValueError) as exc:
        sys.stderr.write(f"replay deliver: {exc}\n")
        return 2
    codec = AvroCodec()
    chosen = sorted(
        (
            record
            for record in existing_records(
                open_kafka(settings.kafka), settings.topics.feed_records, codec
            ).values()
            if record.profile_id == profile.id and from_ms <= record.interval_start_ms < to_ms
        ),
        key=lambda r: r.interval_start_ms,
    )
    sys.stderr.write(
        f"replay deliver: {len(chosen)} intervals of {profile.id} in [{args.from_}, {args.to})\n"
    )
    refusal = computed_with(chosen, settings.kpi.fingerprint)
    if refusal is not None:
        sys.stderr.write(refusal)
        return 2
    items = [Item(r, Original(codec.encode(r), codec.fingerprint)) for r in chosen]
    return redeliver(settings, items, "replay", args.dry_run, Limits(args.deadline_s, args.timeout))
