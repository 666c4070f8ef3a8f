"""``streamvane dlq list|redrive``: see what could not be delivered, and deliver it again.

Dead letters are never deleted. Which ones are done is kept in the compacted dead-letter state
topic (``topics.dead_letter_state``, keyed ``<partition>:<offset>``): an entry is *waiting* until
it has a state there, ``redriven`` (with the new result) or ``superseded``.

``redrive`` considers every waiting entry of the whole topic (``--profile`` filters all of them,
not the head), and never sends a revision older than the newest one of its interval — the live
record of the compacted feed topic, or a newer waiting dead letter: an older one is marked
``superseded`` (ledger and state) instead, so a WFM never ends up holding a stale value.
Profiles are redriven in parallel lanes, each in dead-letter order (:mod:`.redeliver`); an entry
is marked only after its new outcome is recorded, so an interrupted or timed-out redrive leaves
the rest waiting. A redrive that fails again writes a new dead letter with the new context; its
attempt count continues from the old one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Message

from streamvane.broker.connection import connect
from streamvane.broker.preflight import open_kafka
from streamvane.broker.producer import OutputProducer
from streamvane.broker.topic_reader import headers_of, read_to_end
from streamvane.broker.topics import delivery_topic_specs, ensure_topics
from streamvane.commands.redeliver import Item, Limits, redeliver
from streamvane.commands.replay import add_limits, existing_records
from streamvane.feeds.delivery_result import Result
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.settings import Settings
from streamvane.sinks.ledger import DLQ_CONTEXT, DLQ_REASON, Subject, outcome_entry
from streamvane.sinks.outcome import Outcome
from streamvane.sinks.sender import Original


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="list or redrive dead-lettered feed records")
    verbs = p.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="one JSON line per dead letter (waiting, redriven or superseded)")
    ls.add_argument("--waiting", action="store_true", help="only entries not redriven yet")
    ls.add_argument("--profile", help="only this profile's entries")
    ls.set_defaults(handler=run_list)
    rd = verbs.add_parser("redrive", help="deliver every waiting dead letter again")
    rd.add_argument("--profile", help="only this profile's dead letters (others stay waiting)")
    rd.add_argument("--dry-run", action="store_true")
    add_limits(rd)
    rd.set_defaults(handler=run_redrive)


@dataclass(frozen=True, slots=True)
class Entry:
    partition: int
    offset: int
    reason: str
    context: dict[str, Any]
    original: Original
    state: dict[str, Any] | None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def waiting(self) -> bool:
        return self.state is None


def entries(settings: Settings) -> Iterator[Entry]:
    """Every dead letter with its state (None: waiting)."""
    kafka = open_kafka(settings.kafka)
    ensure_topics(settings, kafka, delivery_topic_specs(settings))
    states: dict[str, dict[str, Any]] = {}
    for msg in read_to_end(kafka, settings.topics.dead_letter_state):
        if msg.value():
            states[(msg.key() or b"").decode()] = orjson.loads(msg.value() or b"{}")
    for msg in read_to_end(kafka, settings.topics.dead_letter):
        yield _entry(msg, states)


def _entry(msg: Message, states: dict[str, dict[str, Any]]) -> Entry:
    partition, offset = msg.partition() or 0, msg.offset() or 0
    headers = headers_of(msg)
    original = Original(msg.value() or b"", headers.get(FINGERPRINT_HEADER, b"").decode())
    context = orjson.loads(headers.get(DLQ_CONTEXT, b"{}"))
    return Entry(
        partition,
        offset,
        headers.get(DLQ_REASON, b"").decode(),
        context,
        original,
        states.get(f"{partition}:{offset}"),
    )


def run_list(args: argparse.Namespace) -> int:
    settings = Settings()
    shown = 0
    for entry in entries(settings):
        if (args.waiting and not entry.waiting) or (
            args.profile and entry.context.get("profile") != args.profile
        ):
            continue
        doc = {
            "partition": entry.partition,
            "offset": entry.offset,
            "waiting": entry.waiting,
            "state": (entry.state or {}).get("state", "waiting"),
            **entry.context,
            "reason": entry.reason,
        }
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        shown += 1
    sys.stderr.write(f"dlq: {shown} entries\n")
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    settings = Settings()
    codec = AvroCodec()
    chosen: list[tuple[Entry, Item]] = []
    for entry in entries(settings):
        if not entry.waiting or (args.profile and entry.context.get("profile") != args.profile):
            continue
        try:
            record = codec.decode(entry.original.raw, entry.original.fingerprint)
        except (KeyError, ValueError, EOFError) as exc:
            sys.stderr.write(f"dlq: {entry.position}: undecodable record, left waiting: {exc}\n")
            continue
        chosen.append((entry, Item(record, entry.original, int(entry.context.get("attempts") or 0))))
    newest: dict[str, int] = {}
    live = existing_records(connect(settings.kafka), settings.topics.feed_records, codec)
    for key, record in live.items():
        newest[key] = record.revision
    for _, item in chosen:
        key = item.record.compaction_key
        newest[key] = max(newest.get(key, 0), item.record.revision)
    superseded = [(e, i) for e, i in chosen if i.record.revision < newest[i.record.compaction_key]]
    to_send = [(e, i) for e, i in chosen if i.record.revision >= newest[i.record.compaction_key]]
    sys.stderr.write(
        f"dlq: {len(to_send)} waiting entries to redrive"
        + (f", {len(superseded)} superseded by a newer revision (not sent)" if superseded else "")
        + (f" (profile {args.profile})" if args.profile else "")
        + "\n"
    )
    if args.dry_run:
        for entry, item in superseded:
            sys.stdout.write(
                f"superseded {item.record.profile_id} revision {item.record.revision} "
                f"(newest {newest[item.record.compaction_key]}) at {entry.position}\n"
            )
        return redeliver(settings, [i for _, i in to_send], "redrive", dry_run=True)
    marker = StateWriter(settings)
    try:
        for entry, item in superseded:
            marker.supersede(entry, item, newest[item.record.compaction_key])
        by_item = {id(item): entry for entry, item in to_send}

        def mark(item: Item, result: Result) -> None:
            marker.mark(by_item[id(item)], "redriven", result)

        return redeliver(
            settings,
            [i for _, i in to_send],
            "redrive",
            dry_run=False,
            limits=Limits(args.deadline_s, args.timeout),
            after_each=mark,
        )
    finally:
        marker.close()


class StateWriter:
    """Marks dead letters done in the state topic (and a superseded one in the ledger)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = OutputProducer(connect(settings.kafka))

    def mark(self, entry: Entry, state: str, result: str, **extra: Any) -> None:
        doc = {"state": state, "result": str(result), "atMs": time.time_ns() // 1_000_000, **extra}
        self.producer.produce(
            self.settings.topics.dead_letter_state, orjson.dumps(doc), entry.position.encode()
        )
        self.producer.poll(0)

    def supersede(self, entry: Entry, item: Item, newest: int) -> None:
        now = time.time_ns() // 1_000_000
        subject = Subject.unsent(now, "redrive", item.record)
        outcome = Outcome(Result.SUPERSEDED, finished_ms=now)
        detail = f"revision {item.record.revision} superseded by revision {newest}: not sent"
        self.producer.produce(
            self.settings.topics.delivery_ledger, outcome_entry(subject, outcome, detail=detail), subject.key
        )
        self.mark(entry, "superseded", Result.SUPERSEDED, newestRevision=newest)
        sys.stdout.write(
            f"{Result.SUPERSEDED:<17} {item.record.profile_id} revision {item.record.revision} "
            f"(revision {newest} is newer) at {entry.position}\n"
        )

    def close(self) -> None:
        self.producer.flush_or_raise(30)
