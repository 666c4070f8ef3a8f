"""The stages of the topology run in-process on dict stores: the same pure code the Faust agents
call, partitioned and batched like the topology, so stage logic is specified without a broker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streamvane.feeds.profile import FeedProfile
from streamvane.genesys.parse import EventParser
from streamvane.kpi.config import KpiConfig
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.records.partial import Partial
from streamvane.stages import outbox
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.correlate import (
    Item,
    PartitionProcessor,
    ProcessorConfig,
    Quarantined,
    TickItem,
    bundle_items,
)
from streamvane.stages.ingest import IngestStage, SourceRecord
from streamvane.stages.markers import InputProgress
from streamvane.stages.plan import base_grid, closing_policy
from streamvane.stages.store import DictStore

BASE = base_grid()


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
    finals_marked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ingest = IngestStage(
            EventParser(), self.partitions, InputProgress(1, self.kpi.reorder_tolerance_ms), "events"
        )
        self.read = 0
        self.stores = [DictStore() for _ in range(self.partitions)]
        self.offsets = [0] * self.partitions
        self.closing = closing_policy(self.profiles)
        self.codec = AvroCodec()
        self.assembler = Assembler(
            AssemblerConfig(self.profiles, self.kpi, BASE, self.partitions, self.start_ms),
            self.assembler_store,
            self.codec,
        )

    def reread_input(self) -> None:
        """Ingest lost its commits and reads the input again from the start: the same events come
        again in new bundles, at new keyed offsets."""
        self.ingest.progress = InputProgress(1, self.kpi.reorder_tolerance_ms)
        self.read = 0

    def restart(self) -> None:
        """A killed worker restarted with its local stores: ingest and correlate read their input
        again from the start (what a test feeds next), so the same bundles land at the same
        offsets; correlate skips those it applied."""
        self.reread_input()
        self.offsets = [0] * self.partitions

    def processor(self, partition: int) -> PartitionProcessor:
        config = ProcessorConfig(self.kpi, BASE, self.closing, self.start_ms, 60_000, partition)
        return PartitionProcessor(config, self.stores[partition])

    def feed(self, lines: Iterable[bytes], batch: int = 200, tick_ms: int | None = None) -> None:
        """As ingest does: ``lines`` are one input partition, read in batches of ``batch``; each
        batch becomes bundles of its keyed partitions, the last one of each carrying the marker."""
        records: list[SourceRecord] = []

        def end_of_ingest_batch(tick: bool = False) -> None:
            if not records and not tick:
                return
            result = self.ingest.process(records, now_ms=2**62)
            for q in result.quarantined:
                headers = dict(q.headers)
                self.quarantined.append(
                    Quarantined(q.value, q.reason, headers["detail"].decode(), tuple(q.headers))
                )
            items = bundle_items(result.bundles, self.offsets)
            for p in range(self.partitions):
                batch_items = items.get(p, [])
                if tick and tick_ms is not None:
                    batch_items.append(TickItem(tick_ms))
                self._run(p, batch_items)
            records.clear()

        for raw in lines:
            records.append(SourceRecord(raw, None, 0, self.read, None))
            self.read += 1
            if len(records) == batch:
                end_of_ingest_batch()
        end_of_ingest_batch(tick=tick_ms is not None)

    def _run(self, partition: int, items: list[Item]) -> None:
        """One batch, then publish the outboxes as the shell does (leftovers of a crash included)."""
        store = self.stores[partition]
        self.processor(partition).process(items)
        partials = []
        for out in outbox.pending(store):
            if out.destination == outbox.QUARANTINE:
                headers = dict(out.headers)
                self.quarantined.append(
                    Quarantined(
                        out.value, headers["reason"].decode(), headers["detail"].decode(), out.headers
                    )
                )
            else:
                partials.append(Partial.decode(out.value))
        outbox.clear(store)
        self.assembler.accept_batch(partials)
        for out in outbox.pending(self.assembler_store):
            if out.destination == outbox.PROVISIONAL:
                self.finals_marked.append((out.key or b"").decode())
                continue
            self.records.append(self.codec.decode(out.value, dict(out.headers)[FINGERPRINT_HEADER].decode()))
        outbox.clear(self.assembler_store)
