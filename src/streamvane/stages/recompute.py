"""Recompute feed records from event history with the worker's own stage code, in one process.

Used by ``streamvane replay recompute``: events (from a lookback before the range on) go through
one :class:`PartitionProcessor` and an :class:`Assembler` on in-memory stores, closed by a final
tick; the records of intervals inside the range are then reconciled with what the feed topic
already holds: identical content is left alone (the original bytes stay), changed content
becomes a restatement with the next revision, missing intervals are new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.closing import ClosingPolicy
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import IntervalGrid
from streamvane.records.avro import AvroCodec
from streamvane.records.feed_record import FeedRecord, idempotency_key
from streamvane.records.partial import Partial
from streamvane.stages import outbox
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.correlate import PartitionProcessor, ProcessorConfig, TickItem, bundle_items
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.stages.store import DictStore


@dataclass(slots=True)
class Reconciled:
    unchanged: list[FeedRecord] = field(default_factory=list)
    restated: list[FeedRecord] = field(default_factory=list)
    new: list[FeedRecord] = field(default_factory=list)


def recompute(
    raw_events: Iterable[tuple[bytes, int | None]],
    profiles: tuple[FeedProfile, ...],
    kpi: KpiConfig,
    base: IntervalGrid,
    closing: ClosingPolicy,
    start_ms: int,
    tick_ms: int,
    max_delivery_delay_ms: int,
) -> list[FeedRecord]:
    """Every record the stages produce from ``raw_events`` — (value, received ms or None), in
    order — closed by a tick at ``tick_ms``."""
    store, assembly = DictStore(), DictStore()
    processor = PartitionProcessor(
        ProcessorConfig(kpi, base, closing, start_ms, max_delivery_delay_ms, 0), store
    )
    ingest = IngestStage(
        kpi.event_parser(), 1, InputProgress(1, kpi.reorder_tolerance_ms), "history", markers=False
    )
    codec = AvroCodec()
    assembler = Assembler(AssemblerConfig(profiles, kpi, base, 1, start_ms), assembly, codec)
    records: list[FeedRecord] = []
    next_offsets = [0]

    def step(raw_batch: list[SourceRecord], tick: bool = False) -> None:
        bundles = ingest.process(raw_batch, now_ms=2**62).bundles
        items = bundle_items(bundles, next_offsets).get(0, [])
        if tick:
            items.append(TickItem(tick_ms))
        processor.process(items)
        partials = [
            Partial.decode(o.value) for o in outbox.pending(store) if o.destination == outbox.PARTIALS
        ]
        outbox.clear(store)
        records.extend(assembler.accept_batch(partials))
        outbox.clear(assembly)

    batch: list[SourceRecord] = []
    for offset, (raw, received_ms) in enumerate(raw_events):
        batch.append(SourceRecord(raw, None, 0, offset, received_ms))
        if len(batch) >= 5000:
            step(batch)
            batch = []
    step(batch, tick=True)
    return records


def reconcile(
    recomputed: Iterable[FeedRecord], existing: Mapping[str, FeedRecord], from_ms: int, to_ms: int
) -> Reconciled:
    """Compare the latest recomputed record per interval in ``[from_ms, to_ms)`` with the feed's."""
    latest: dict[str, FeedRecord] = {}
    for record in recomputed:
        if from_ms <= record.interval_start_ms < to_ms:
            latest[record.compaction_key] = record
    out = Reconciled()
    for key in sorted(latest):
        record, old = latest[key], existing.get(key)
        if old is None:
            out.new.append(record)
        elif (old.rows, old.event_count) == (record.rows, record.event_count):
            out.unchanged.append(old)
        else:
            revision = old.revision + 1
            out.restated.append(
                replace(
                    record,
                    revision=revision,
                    idempotency_key=idempotency_key(
                        record.profile_id,
                        record.profile_version,
                        record.interval_start_ms,
                        revision,
                        record.rows,
                    ),
                )
            )
    return out
