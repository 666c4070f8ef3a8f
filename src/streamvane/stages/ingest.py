"""Stage 1, pure: one batch of raw input records → bundles per keyed partition, or quarantine.

Every record is parsed once, here (its event time bounded by the record's Kafka timestamp, the
time it was received: ``clock-skew``). A valid event goes into its conversation's keyed
partition's bundle (:mod:`streamvane.stages.bundles`); an event of a topic the KPIs do not use is
dropped and counted; anything else goes to quarantine with its reason and source position — by
reference when it is too large to copy (:mod:`streamvane.stages.quarantine`). After the batch,
each keyed partition's last bundle carries the watermark marker of every input partition seen so
far (:class:`~streamvane.stages.markers.InputProgress`).

The shell (``agents/ingest.py``) produces the result, flushes, and only then commits the input
offsets: at-least-once; a re-sent bundle is recognised downstream by event de-duplication.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from streamvane.genesys.events import ConversationEvent, Rejection
from streamvane.genesys.parse import EventParser
from streamvane.stages.bundles import DEFAULT_MAX_BUNDLE_BYTES, Bundler, Source
from streamvane.stages.markers import InputProgress
from streamvane.stages.quarantine import Headers, quarantine_message

MAX_QUARANTINE_KEY_BYTES = 1024


class SourceRecord(NamedTuple):
    """One input record: value, key, partition, offset, Kafka timestamp (epoch ms; None: unknown)."""

    value: bytes | None
    key: bytes | None
    partition: int
    offset: int
    timestamp_ms: int | None


class QuarantineMessage(NamedTuple):
    key: bytes | None
    value: bytes
    headers: Headers
    reason: str


@dataclass(slots=True)
class IngestResult:
    bundles: list[tuple[int, bytes]] = field(default_factory=list)
    quarantined: list[QuarantineMessage] = field(default_factory=list)
    forwarded: int = 0
    ignored: int = 0
    read: Counter[int] = field(default_factory=Counter)


@dataclass(slots=True)
class IngestStage:
    """``keyed_partitions``: of the keyed topic; ``progress``: the input partitions' watermarks,
    kept across batches (the shell advances idle partitions on it). ``markers`` False: bundles
    without markers, for an offline run closed by one final tick."""

    parser: EventParser
    keyed_partitions: int
    progress: InputProgress
    topic: str
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES
    markers: bool = True

    def process(self, records: Iterable[SourceRecord], now_ms: int) -> IngestResult:
        result = IngestResult()
        bundler = Bundler(self.keyed_partitions, self.max_bundle_bytes)
        parse, observe = self.parser.parse, self.progress.observe
        for record in records:
            result.read[record.partition] += 1
            received_ms = record.timestamp_ms if record.timestamp_ms and record.timestamp_ms > 0 else now_ms
            raw = record.value
            parsed = parse(raw, received_ms) if raw else Rejection("empty", "record has no value")
            if type(parsed) is ConversationEvent:
                bundler.add(parsed, Source(record.partition, record.offset))
                observe(record.partition, parsed.event_time_ms)
                result.forwarded += 1
            elif isinstance(parsed, Rejection):
                result.quarantined.append(self._quarantine(record, parsed))
            else:
                result.ignored += 1
        result.bundles = bundler.finish(self.progress.marker() if self.markers else None)
        return result

    def marker_bundles(self) -> list[tuple[int, bytes]]:
        """A marker-only bundle into every keyed partition (after idle partitions advanced)."""
        return Bundler(self.keyed_partitions, self.max_bundle_bytes).finish(self.progress.marker())

    def _quarantine(self, record: SourceRecord, rejection: Rejection) -> QuarantineMessage:
        value, headers = quarantine_message(
            record.value or b"",
            rejection.reason,
            rejection.detail,
            self.topic,
            record.partition,
            record.offset,
        )
        key = record.key if record.key is not None and len(record.key) <= MAX_QUARANTINE_KEY_BYTES else None
        return QuarantineMessage(key, value, headers, rejection.reason)
