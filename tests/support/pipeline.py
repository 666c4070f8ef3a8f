"""The stages of the topology run in-process on dict stores: the same pure code the Faust agents
call, partitioned and batched like the topology, so stage logic is specified without a broker."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from streamvane.feeds.profile import FeedProfile
from streamvane.genesys.events import ConversationEvent
from streamvane.genesys.parse import EventParser
from streamvane.kpi.config import KpiConfig
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.records.partial import Partial
from streamvane.stages import outbox
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.correlate import (
    EventItem,
    Item,
    MarkerItem,
    PartitionProcessor,
    ProcessorConfig,
    Quarantined,
    TickItem,
)
from streamvane.stages.markers import InputProgress
from streamvane.stages.plan import base_grid, closing_policy
from streamvane.stages.store import DictStore

BASE = base_grid()


def partition_of(raw: bytes, partitions: int) -> int:
    start = raw.find(b'"conversationId":"') + 18
    return zlib.crc32(raw[start : raw.index(b'"', start)]) % partitions


@dataclass
class Pipeline:
    profiles: tuple[FeedProfile, ...]
    start_ms: int
    partitions: int = 3
    kpi: KpiConfig = field(default_factory=KpiConfig)
    stores: list[DictStore] = field(default_factory=list)
    assembler_store: DictStore = field(default_factory=DictStore)
    offsets: list[int] = field(default_factory=list)
    records: list[FeedRecord] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.progress = InputProgress(1, self.kpi.reorder_tolerance_ms)
        self.parser = EventParser()
        self.stores = [DictStore() for _ in range(self.partitions)]
        self.offsets = [0] * self.partitions
        self.closing = closing_policy(self.profiles)
        self.codec = AvroCodec()
        self.assembler = Assembler(
            AssemblerConfig(self.profiles, BASE, self.partitions, self.start_ms),
            self.assembler_store,
            self.codec,
        )

    def processor(self, partition: int) -> PartitionProcessor:
        config = ProcessorConfig(self.kpi, BASE, self.closing, self.start_ms, 60_000, partition)
        return PartitionProcessor(config, self.stores[partition])

    def feed(self, lines: Iterable[bytes], batch: int = 200, tick_ms: int | None = None) -> None:
        """As ingest does: ``lines`` are one input partition, read in batches of ``batch``; each
        batch's events go to their keyed partitions, followed everywhere by the batch's marker."""
        pending: list[list[Item]] = [[] for _ in range(self.partitions)]

        def end_of_ingest_batch() -> None:
            marker = self.progress.marker()
            for p in range(self.partitions):
                if marker is not None:
                    pending[p].append(MarkerItem(marker))
                self._run(p, pending[p])
                pending[p] = []

        for read, raw in enumerate(lines, start=1):
            p = partition_of(raw, self.partitions)
            pending[p].append(EventItem(self.offsets[p], raw))
            self.offsets[p] += 1
            event = self.parser.parse(raw, 2**62)
            if isinstance(event, ConversationEvent):
                self.progress.observe(0, event.event_time_ms)
            if read % batch == 0:
                end_of_ingest_batch()
        if tick_ms is not None:
            for p in range(self.partitions):
                pending[p].append(TickItem(tick_ms))
        end_of_ingest_batch()

    def _run(self, partition: int, items: list[Item]) -> None:
        """One batch, then publish the outboxes as the shell does (leftovers of a crash included)."""
        store = self.stores[partition]
        self.processor(partition).process(items, now_ms=2**62)
        partials = []
        for out in outbox.pending(store):
            if out.destination == outbox.QUARANTINE:
                headers = dict(out.headers)
                self.quarantined.append(
                    Quarantined(out.value, headers["reason"].decode(), headers["detail"].decode())
                )
            else:
                partials.append(Partial.decode(out.value))
        outbox.clear(store)
        self.assembler.accept_batch(partials)
        for out in outbox.pending(self.assembler_store):
            self.records.append(self.codec.decode(out.value, dict(out.headers)[FINGERPRINT_HEADER].decode()))
        outbox.clear(self.assembler_store)
