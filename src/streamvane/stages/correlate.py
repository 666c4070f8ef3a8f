"""One batch of one source partition: events and ticks in; state writes, quarantine and partials out.

The steps, in order (each batch, deterministic given the store and the items):

1. Bundles at or below the partition's applied offset are redeliveries and are skipped (an
   event's identity in the keyed topic is its bundle's offset and its index in the bundle; a
   batch applies whole bundles, so the bundle offset is enough).
2. Each event (parsed once, by ingest) is checked for lateness against the watermark *before*
   this batch (past the correction horizon: ``too-late``, quarantined by reference to the input
   record), then correlated in its conversation's correlator (loaded from the store, with that
   watermark). Events before the feed start are correlated too — a replay started an hour
   before the feed start pairs them with their partners after it — but what they record falls
   in intervals no feed covers and is dropped (``before_feed_start``).
3. The watermark advances: the minimum over the input partitions' markers, or a tick − the max
   delivery delay (:mod:`streamvane.kpi.closing`).
4. Conversations with a deadline up to the watermark are expired (handle without wrap-up, …).
5. Observations (and retractions of provisional handles) are merged into the partition's cells;
   cells of already-closed intervals mark them for restatement.
6. Every base interval that became final is emitted as a partial (revision 1); restated ones
   again with revision + 1.
7. State, the new offset and the outbox (partials, quarantine) are committed together through a
   redo record (:class:`~streamvane.stages.store.BatchWrites`); the shell publishes the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from streamvane.genesys.events import ConversationEvent
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.closing import ClosingPolicy, Lateness, combined_watermark, partition_watermark
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.correlation import CorrelationCounts, Correlator
from streamvane.kpi.intervals import MINUTE_MS, IntervalGrid
from streamvane.records.partial import Partial, Snapshot
from streamvane.stages import bundles, keys, outbox
from streamvane.stages.bundles import Bundle, Source
from streamvane.stages.markers import Marker
from streamvane.stages.outbox import PARTIALS, QUARANTINE, Output
from streamvane.stages.quarantine import quarantine_event_reference
from streamvane.stages.store import BatchWrites, Store, recover

REASON_TOO_LATE = "too-late"


class BundleItem(NamedTuple):
    """A keyed-topic record: a bundle of parsed events (and maybe a marker) at ``offset``."""

    offset: int
    bundle: Bundle


class TickItem(NamedTuple):
    """Every input partition has delivered everything older than ``tick_ms − max delivery delay``;
    ``offset``: its place in the keyed partition (None offline, where ticks take no offset)."""

    tick_ms: int
    offset: int | None = None


Item = BundleItem | TickItem


class Quarantined(NamedTuple):
    """A refused event: ``value`` references its input record (see
    :func:`~streamvane.stages.quarantine.quarantine_event_reference`)."""

    value: bytes
    reason: str
    detail: str
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    kpi: KpiConfig
    base: IntervalGrid
    closing: ClosingPolicy
    start_ms: int
    max_delivery_delay_ms: int
    partition: int
    source_topic: str = "events"


@dataclass(slots=True)
class BatchResult:
    quarantined: list[Quarantined] = field(default_factory=list)
    partials: list[Partial] = field(default_factory=list)
    applied: int = 0
    redelivered: int = 0
    late_observations: int = 0
    before_feed_start: int = 0
    counts: CorrelationCounts = field(default_factory=CorrelationCounts)
    watermark_ms: int | None = None
    gap_from: int | None = None


@dataclass(slots=True)
class _Meta:
    applied_offset: int
    newest_ms: int | None
    tick_ms: int | None
    watermark_ms: int | None
    next_close_ms: int
    expired_minute: int
    oldest_ms: int
    inputs: int = 0
    input_watermarks: dict[str, int] = field(default_factory=dict)
    next_offset: int = -1

    @classmethod
    def load(cls, raw: bytes | None, start_ms: int) -> _Meta:
        if raw is None:
            return cls(-1, None, None, None, start_ms, start_ms // MINUTE_MS - 1, start_ms)
        return cls(**orjson.loads(raw))

    def mark(self, marker: Marker) -> None:
        self.inputs = marker.inputs
        for partition, watermark in marker.watermarks.items():
            known = self.input_watermarks.get(str(partition))
            if known is None or watermark > known:
                self.input_watermarks[str(partition)] = watermark

    def inputs_watermark(self) -> int | None:
        return combined_watermark({int(p): w for p, w in self.input_watermarks.items()}, range(self.inputs))

    def dump(self) -> bytes:
        return orjson.dumps({name: getattr(self, name) for name in self.__slots__})


@dataclass(slots=True)
class _BatchCells:
    """The Recorder for one batch: observation deltas per (base start, queue, media)."""

    base: IntervalGrid
    deltas: dict[tuple[int, str, str], IntervalAccumulator] = field(default_factory=dict)

    def record(self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int) -> None:
        self._delta(queue_id, media_type, at_ms).add(metric, value)

    def record_provisional(
        self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int, multiplicity: int
    ) -> None:
        self._delta(queue_id, media_type, at_ms).add_provisional(metric, value, multiplicity)

    def _delta(self, queue_id: str, media_type: str, at_ms: int) -> IntervalAccumulator:
        key = (self.base.start_of(at_ms), queue_id, media_type)
        acc = self.deltas.get(key)
        if acc is None:
            acc = self.deltas[key] = IntervalAccumulator()
        return acc


class PartitionProcessor:
    """Stateless between batches: everything it knows is in the store."""

    def __init__(self, config: ProcessorConfig, store: Store) -> None:
        self.config, self.store = config, store

    def process(self, items: Iterable[Item], earliest_offset: int = 0) -> BatchResult:
        """Apply one batch; its state changes and outbox are committed together (see BatchWrites).

        Keyed records must come without a gap: from ``earliest_offset`` (the partition's first
        record still held) on, each the one after the last applied. Should one be missing — the
        consumer skipped it — the batch stops before the gap and ``gap_from`` says where to read
        again; nothing after a gap is applied, so nothing is lost."""
        recover(self.store)
        batch = BatchWrites(self.store)
        result = self._process(batch, items, earliest_offset)
        outputs = [Output(QUARANTINE, None, q.value, q.headers) for q in result.quarantined]
        outputs += [Output(PARTIALS, p.key.encode(), p.encode()) for p in result.partials]
        outbox.add(batch, outputs)
        batch.commit()
        return result

    def _process(self, store: Store, items: Iterable[Item], earliest_offset: int) -> BatchResult:
        cfg = self.config
        meta = _Meta.load(store.get(keys.META), cfg.start_ms)
        result = BatchResult()
        cells = _BatchCells(cfg.base)
        conversations: dict[str, Correlator] = {}
        for item in items:
            if item.offset is not None:
                expected = max(meta.next_offset, earliest_offset)
                if item.offset > expected:
                    result.gap_from = expected
                    break
                if item.offset < expected and isinstance(item, TickItem):
                    continue
                meta.next_offset = max(meta.next_offset, item.offset + 1)
            if isinstance(item, TickItem):
                meta.tick_ms = item.tick_ms if meta.tick_ms is None else max(meta.tick_ms, item.tick_ms)
                continue
            if item.offset <= meta.applied_offset:
                result.redelivered += len(item.bundle.events)
                continue
            meta.applied_offset = item.offset
            bundle = item.bundle
            for event, source in zip(bundle.events, bundle.sources, strict=True):
                refusal = self._refusal(event.event_time_ms, meta.watermark_ms)
                if refusal is not None:
                    result.quarantined.append(self._quarantined(event, source, *refusal))
                    continue
                result.applied += 1
                if event.event_time_ms < cfg.start_ms:
                    result.before_feed_start += 1
                correlator = self._correlator(
                    store, conversations, event.conversation_id, cells, result, meta.watermark_ms
                )
                correlator.accept(event)
                if meta.newest_ms is None or event.event_time_ms > meta.newest_ms:
                    meta.newest_ms = event.event_time_ms
            if bundle.marker is not None:
                meta.mark(bundle.marker)
        meta.watermark_ms = partition_watermark(
            meta.watermark_ms, meta.inputs_watermark(), meta.tick_ms, cfg.max_delivery_delay_ms
        )
        result.watermark_ms = meta.watermark_ms
        if meta.watermark_ms is not None:
            self._expire_due(store, meta, conversations, cells, result)
        restate = self._apply(store, cells, meta, result)
        self._close(store, meta, restate, result)
        self._forget_old_intervals(store, meta)
        self._save_conversations(store, conversations, meta)
        store.set(keys.META, meta.dump())
        return result

    # -- steps --------------------------------------------------------------------------------

    def _refusal(self, event_time_ms: int, watermark_ms: int | None) -> tuple[str, str] | None:
        cfg = self.config
        end = cfg.base.bounds(event_time_ms)[1]
        if cfg.closing.classify(end, watermark_ms) is Lateness.TOO_LATE:
            return REASON_TOO_LATE, (
                f"event time {event_time_ms}: its interval ended at {end}, the watermark {watermark_ms} "
                f"is past the correction horizon of {cfg.closing.correction_horizon_ms} ms"
            )
        return None

    def _quarantined(self, event: ConversationEvent, source: Source, reason: str, detail: str) -> Quarantined:
        value, headers = quarantine_event_reference(
            event._asdict(), reason, detail, self.config.source_topic, *source
        )
        return Quarantined(value, reason, detail, tuple(headers))

    def _correlator(
        self,
        store: Store,
        cache: dict[str, Correlator],
        conversation_id: str,
        cells: _BatchCells,
        result: BatchResult,
        watermark_ms: int | None,
    ) -> Correlator:
        """The conversation's correlator, seeing the watermark ``watermark_ms``: a provisional
        handle moves only while its interval is within the correction horizon (still stored)."""
        correlator = cache.get(conversation_id)
        if correlator is None:
            raw = store.get(keys.conversation(conversation_id))
            kpi, horizon = self.config.kpi, self.config.closing.correction_horizon_ms
            if raw is None:
                correlator = Correlator(kpi, cells, result.counts, horizon, watermark_ms=watermark_ms)
            else:
                state = orjson.loads(raw)
                correlator = Correlator.from_state(kpi, cells, state, result.counts, horizon, watermark_ms)
            cache[conversation_id] = correlator
        return correlator

    def _expire_due(
        self,
        store: Store,
        meta: _Meta,
        conversations: dict[str, Correlator],
        cells: _BatchCells,
        result: BatchResult,
    ) -> None:
        assert meta.watermark_ms is not None
        current_minute = meta.watermark_ms // MINUTE_MS
        for minute in range(meta.expired_minute + 1, current_minute + 1):
            bucket = store.get(keys.deadlines(minute))
            if bucket is None:
                continue
            for conversation_id in orjson.loads(bucket):
                self._correlator(store, conversations, conversation_id, cells, result, meta.watermark_ms)
            store.delete(keys.deadlines(minute))
        # The watermark's own minute stays open: deadlines later in it are rescheduled there.
        meta.expired_minute = max(meta.expired_minute, current_minute - 1)
        for correlator in conversations.values():
            correlator.expire(meta.watermark_ms)

    def _apply(self, store: Store, cells: _BatchCells, meta: _Meta, result: BatchResult) -> set[int]:
        """Merge the batch's deltas into the stored cells; the closed intervals they touch."""
        restate = set()
        new_dimensions: dict[int, set[tuple[str, str]]] = {}
        for (start, queue, media), delta in sorted(cells.deltas.items()):
            if start < meta.oldest_ms:
                result.late_observations += 1  # before the feed, or past the horizon and forgotten
                continue
            key = keys.cell(start, queue, media)
            raw = store.get(key)
            if raw is None:
                merged = delta
                new_dimensions.setdefault(start, set()).add((queue, media))
            else:
                merged = IntervalAccumulator.from_state(orjson.loads(raw)).merged(delta)
            store.set(key, orjson.dumps(merged.state()))
            if start < meta.next_close_ms:
                restate.add(start)
        for start, dims in new_dimensions.items():
            raw = store.get(keys.dimensions(start))
            known = {tuple(d) for d in orjson.loads(raw)} if raw else set()
            store.set(keys.dimensions(start), orjson.dumps(sorted(known | dims)))
        return restate

    def _close(self, store: Store, meta: _Meta, restate: set[int], result: BatchResult) -> None:
        cfg = self.config
        for start in sorted(restate):
            end = cfg.base.next_start(start)
            if cfg.closing.classify(end, meta.watermark_ms) is Lateness.RESTATE:
                result.partials.append(self._partial(store, start, end, meta))
        for start, end in list(cfg.closing.due(cfg.base, meta.next_close_ms, meta.watermark_ms)):
            result.partials.append(self._partial(store, start, end, meta))
            meta.next_close_ms = end

    def _forget_old_intervals(self, store: Store, meta: _Meta) -> None:
        """Intervals past the correction horizon can never change again: drop their state."""
        cfg = self.config
        start = meta.oldest_ms
        while start < meta.next_close_ms:
            end = cfg.base.next_start(start)
            if cfg.closing.classify(end, meta.watermark_ms) is not Lateness.TOO_LATE:
                break
            raw_dims = store.get(keys.dimensions(start))
            for queue, media in orjson.loads(raw_dims) if raw_dims else []:
                store.delete(keys.cell(start, queue, media))
            store.delete(keys.dimensions(start))
            store.delete(keys.revision(start))
            start = end
        meta.oldest_ms = start

    def _partial(self, store: Store, start: int, end: int, meta: _Meta) -> Partial:
        raw_revision = store.get(keys.revision(start))
        revision = (orjson.loads(raw_revision) if raw_revision else 0) + 1
        store.set(keys.revision(start), orjson.dumps(revision))
        assert meta.watermark_ms is not None
        return Partial(
            self.config.partition, start, end, revision, meta.watermark_ms, read_cells(store, start)
        )

    def _save_conversations(self, store: Store, conversations: dict[str, Correlator], meta: _Meta) -> None:
        scheduled: dict[int, list[str]] = {}
        for conversation_id, correlator in conversations.items():
            key = keys.conversation(conversation_id)
            due = correlator.next_deadline_ms()
            if due is None or correlator.forgettable():
                store.delete(key)
                continue
            store.set(key, orjson.dumps(correlator.state()))
            minute = max(due // MINUTE_MS, meta.expired_minute + 1)
            scheduled.setdefault(minute, []).append(conversation_id)
        for minute, ids in scheduled.items():
            raw = store.get(keys.deadlines(minute))
            known: list[Any] = orjson.loads(raw) if raw else []
            merged = sorted(set(known) | set(ids))
            store.set(keys.deadlines(minute), orjson.dumps(merged))


def read_cells(store: Store, base_start_ms: int) -> dict[tuple[str, str], Snapshot]:
    """The partition's cells of one base interval, as they stand in ``store``."""
    raw_dims = store.get(keys.dimensions(base_start_ms))
    cells: dict[tuple[str, str], Snapshot] = {}
    for queue, media in orjson.loads(raw_dims) if raw_dims else []:
        raw = store.get(keys.cell(base_start_ms, queue, media))
        if raw is not None:
            cells[(queue, media)] = IntervalAccumulator.from_state(orjson.loads(raw)).snapshot()
    return cells


def bundle_items(written: Iterable[tuple[int, bytes]], next_offsets: list[int]) -> dict[int, list[Item]]:
    """Ingest's bundles as the items of each keyed partition, at the offsets the keyed topic
    would give them (``next_offsets`` advances): how offline runs feed the stage the worker's way."""
    items: dict[int, list[Item]] = {}
    for partition, raw in written:
        items.setdefault(partition, []).append(BundleItem(next_offsets[partition], bundles.decode(raw)))
        next_offsets[partition] += 1
    return items
