"""``streamvane dlq list|redrive``: see what could not be delivered, and deliver it again.

Dead letters are never deleted; a consumer group (``<dispatcher group>-redrive``) marks how far
redrive has got, so ``list`` shows which entries are still waiting and ``redrive`` sends each
waiting one once (its offset is committed only after its new outcome is recorded). A redrive that
fails again writes a new dead letter with the new context.
"""

from __future__ import annotations

import argparse
import sys

import orjson
from confluent_kafka import Consumer, TopicPartition

from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.settings import Settings
from streamvane.sinks.ledger import DLQ_CONTEXT, DLQ_REASON
from streamvane.sinks.sender import Original
from streamvane.topology.topic_reader import headers_of, read_to_end


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="list or redrive dead-lettered feed records")
    verbs = p.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="one JSON line per dead letter (waiting or redriven)")
    ls.add_argument("--waiting", action="store_true", help="only entries not redriven yet")
    ls.set_defaults(handler=run_list)
    rd = verbs.add_parser("redrive", help="deliver every waiting dead letter again")
    rd.add_argument("--profile", help="only this profile's dead letters (others stay waiting)")
    rd.add_argument("--dry-run", action="store_true")
    rd.set_defaults(handler=run_redrive)


def _group(settings: Settings) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"{settings.dispatcher.group_id}-redrive",
            "enable.auto.commit": False,
        }
    )


def _committed(settings: Settings) -> dict[int, int]:
    consumer = _group(settings)
    try:
        topic = settings.topics.dead_letter
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        marks = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in marks if tp.offset >= 0}
    finally:
        consumer.close()


def run_list(args: argparse.Namespace) -> int:
    settings = Settings()
    marks = _committed(settings)
    shown = 0
    for msg in read_to_end(settings.kafka.bootstrap_servers, settings.topics.dead_letter):
        partition, offset = msg.partition() or 0, msg.offset() or 0
        waiting = offset >= marks.get(partition, 0)
        if args.waiting and not waiting:
            continue
        headers = headers_of(msg)
        context = orjson.loads(headers.get(DLQ_CONTEXT, b"{}"))
        entry = {"partition": partition, "offset": offset, "waiting": waiting, **context}
        entry["reason"] = headers.get(DLQ_REASON, b"").decode()
        sys.stdout.write(orjson.dumps(entry).decode() + "\n")
        shown += 1
    sys.stderr.write(f"dlq: {shown} entries\n")
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    from streamvane.commands.redeliver import redeliver

    settings = Settings()
    codec = AvroCodec()
    topic = settings.topics.dead_letter
    marks = _committed(settings)
    items: list[tuple[FeedRecord, Original]] = []
    positions: list[tuple[int, int]] = []
    for msg in read_to_end(settings.kafka.bootstrap_servers, topic, from_offsets=marks):
        original = Original(msg.value() or b"", headers_of(msg).get(FINGERPRINT_HEADER, b"").decode())
        try:
            record = codec.decode(original.raw, original.fingerprint)
        except (KeyError, ValueError) as exc:
            sys.stderr.write(f"dlq: offset {msg.offset()}: undecodable record, left waiting: {exc}\n")
            break
        if args.profile and record.profile_id != args.profile:
            break  # keep order: entries behind one we skip stay waiting too
        items.append((record, original))
        positions.append((msg.partition() or 0, msg.offset() or 0))
    sys.stderr.write(f"dlq: {len(items)} waiting entries to redrive\n")
    if args.dry_run or not items:
        return redeliver(settings, items, "redrive", dry_run=True)
    consumer = _group(settings)

    def commit(index: int, recorded: bool) -> None:
        if recorded:
            partition, offset = positions[index]
            consumer.commit(offsets=[TopicPartition(topic, partition, offset + 1)], asynchronous=False)

    try:
        return redeliver(settings, items, "redrive", dry_run=False, after_each=commit)
    finally:
        consumer.close()
