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
import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer, Producer, TopicPartition

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


def _reader(bootstrap: str) -> Consumer:
    """A consumer that assigns partitions itself and commits nothing (its group id is throwaway)."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"streamvane-replay-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )


def _read_topic(bootstrap: str, topic: str, from_ms: int, label: str) -> Iterator[bytes]:
    """Values of ``topic`` from the first record timestamped at/after ``from_ms`` to its current end."""
    consumer = _reader(bootstrap)
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, from_ms) for p in partitions], timeout=10
        )
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
        assignment = [tp for tp in starts if tp.offset >= 0 and tp.offset < ends[tp.partition]]
        total = sum(ends[tp.partition] - tp.offset for tp in assignment)
        consumer.assign(assignment)
        remaining = {tp.partition for tp in assignment}
        progress, done = Progress(label), 0
        while remaining:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                partition, offset = msg.partition(), msg.offset()
                if msg.error() or partition not in remaining or partition is None or offset is None:
                    continue
                if offset >= ends[partition] - 1:
                    remaining.discard(partition)
                if offset < ends[partition]:
                    done += 1
                    yield msg.value() or b""
            progress.update(done, total)
        progress.update(done, total, force=True)
    finally:
        consumer.close()


def _existing_records(bootstrap: str, topic: str, codec: AvroCodec) -> dict[str, FeedRecord]:
    latest: dict[str, FeedRecord] = {}
    consumer = _reader(bootstrap)
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
        assignment = [TopicPartition(topic, p, low) for p, (low, high) in ends.items() if high > low]
        consumer.assign(assignment)
        remaining = {tp.partition for tp in assignment}
        while remaining:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                partition, offset = msg.partition(), msg.offset()
                if msg.error() or partition is None or offset is None:
                    continue
                if offset >= ends[partition][1] - 1:
                    remaining.discard(partition)
                raw_headers = msg.headers() or []
                pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
                headers = {k: v for k, v in pairs if isinstance(v, bytes)}
                record = codec.decode(msg.value() or b"", headers[FINGERPRINT_HEADER].decode())
                latest[record.compaction_key] = record
    finally:
        consumer.close()
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
    bootstrap, codec = settings.kafka.bootstrap_servers, AvroCodec()
    events = _read_topic(bootstrap, settings.topics.events, start_ms, "replay: events read")
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
    existing = _existing_records(bootstrap, settings.topics.feed_records, codec)
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
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
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
