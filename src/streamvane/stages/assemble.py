"""Every partition's partials → one feed record per profile and interval.

A profile interval is assembled once every source partition has sent its partial for every base
interval it covers and the partitions' combined watermark (the minimum of the latest watermark
each partition reported) has reached the interval end plus the profile's grace. A later partial
with a higher revision re-assembles the interval: if the content changed, the record is restated
with revision + 1; an identical re-delivery re-emits nothing. A record's ``watermark_ms`` is the
event-time watermark it is final at (end + grace): the same however the input was batched, so a
recomputation is byte-identical. State lives in the store:

* ``p|<baseStartMs>|<partition>`` — the latest partial (encoded)
* ``w|<partition>`` — the latest watermark the partition reported
* ``e|<profile>|<startMs>`` — ``[revision, content digest]`` of the last record emitted
* ``o|<profile>`` — the oldest interval start not yet emitted
* ``c`` — the oldest base interval whose partials are kept (older ones are past every horizon)

For a profile with provisional updates, each first emission (revision 1) also sends an empty
marker to the provisional topic under the record's compaction key, in the same outbox: it follows
every update of that interval there, so the dispatcher knows no update of it may be sent now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.closing import combined_watermark
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import IntervalGrid
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.records.partial import Partial, merged_cells
from streamvane.records.rollup import base_starts
from streamvane.stages import outbox
from streamvane.stages.outbox import PROVISIONAL, RECORDS, Output
from streamvane.stages.store import BatchWrites, Store, recover

_LONGEST_CADENCE_MS = 3_600_000  # a base partial may be needed by a PT60M interval ending this much later


def partial_key(base_start_ms: int, partition: int) -> str:
    return f"p|{base_start_ms:015d}|{partition}"


def emitted_key(profile_id: str, start_ms: int) -> str:
    return f"e|{profile_id}|{start_ms:015d}"


@dataclass(frozen=True, slots=True)
class AssemblerConfig:
    profiles: tuple[FeedProfile, ...]
    kpi: KpiConfig
    base: IntervalGrid
    partitions: int
    start_ms: int


class Assembler:
    def __init__(self, config: AssemblerConfig, store: Store, codec: AvroCodec | None = None) -> None:
        self.config, self.base_store, self.codec = config, store, codec or AvroCodec()
        self.store: Store = store
        self.grids = {p.id: p.grid() for p in config.profiles}
        self.provisional = {p.id for p in config.profiles if p.provisional is not None}

    def accept_batch(self, partials: list[Partial]) -> list[FeedRecord]:
        """Apply partials; state and the outbox of Avro-encoded records commit together."""
        recover(self.base_store)
        batch = BatchWrites(self.base_store)
        self.store = batch
        try:
            records = [record for partial in partials for record in self.accept(partial)]
            self._forget_old_partials()
        finally:
            self.store = self.base_store
        header = ((FINGERPRINT_HEADER, self.codec.fingerprint.encode()),)
        outputs = [Output(RECORDS, r.compaction_key.encode(), self.codec.encode(r), header) for r in records]
        outputs += [
            Output(PROVISIONAL, r.compaction_key.encode(), b"")
            for r in records
            if r.revision == 1 and r.profile_id in self.provisional
        ]
        outbox.add(batch, outputs)
        batch.commit()
        return records

    def accept(self, partial: Partial) -> list[FeedRecord]:
        store = self.store
        key = partial_key(partial.base_start_ms, partial.partition)
        known = store.get(key)
        if known is None or Partial.decode(known).revision < partial.revision:
            store.set(key, partial.encode())
        wkey = f"w|{partial.partition}"
        previous = store.get(wkey)
        if previous is None or orjson.loads(previous) < partial.watermark_ms:
            store.set(wkey, orjson.dumps(partial.watermark_ms))
        watermark = self._watermark()
        out: list[FeedRecord] = []
        for profile in self.config.profiles:
            grid = self.grids[profile.id]
            start = grid.start_of(partial.base_start_ms)
            if self._emitted(profile, start) is not None:
                record = self._assemble(profile, grid, start, watermark, restating=True)
                if record is not None:
                    out.append(record)
            out.extend(self._due(profile, grid, watermark))
        return out

    def _forget_old_partials(self) -> None:
        """Partials of base intervals past every profile's correction horizon can go, but never
        one a profile has yet to emit an interval from: a batch may end between the partials of
        one profile interval, and the next batch still needs the first ones."""
        watermark = self._watermark()
        if watermark is None:
            return
        horizon = max(p.correction_horizon_ms for p in self.config.profiles)
        raw = self.store.get("c")
        start = orjson.loads(raw) if raw is not None else self.config.start_ms
        base = self.config.base
        pending = min(self._next_due(p, self.grids[p.id]) for p in self.config.profiles)
        while (
            base.next_start(start) + _LONGEST_CADENCE_MS + horizon <= watermark
            and base.next_start(start) <= pending
        ):
            for partition in range(self.config.partitions):
                self.store.delete(partial_key(start, partition))
            start = base.next_start(start)
        self.store.set("c", orjson.dumps(start))

    def _watermark(self) -> int | None:
        marks = {}
        for p in range(self.config.partitions):
            raw = self.store.get(f"w|{p}")
            marks[p] = orjson.loads(raw) if raw is not None else None
        return combined_watermark(marks, range(self.config.partitions))

    def _next_due(self, profile: FeedProfile, grid: IntervalGrid) -> int:
        """The start of the profile's oldest interval not emitted yet."""
        raw = self.store.get(f"o|{profile.id}")
        return int(orjson.loads(raw)) if raw is not None else self._first_start(grid)

    def _due(self, profile: FeedProfile, grid: IntervalGrid, watermark: int | None) -> list[FeedRecord]:
        okey = f"o|{profile.id}"
        start = self._next_due(profile, grid)
        out = []
        while True:
            record = self._assemble(profile, grid, start, watermark, restating=False)
            if record is None:
                break
            out.append(record)
            start = record.interval_end_ms
            self.store.set(okey, orjson.dumps(start))
        return out

    def _first_start(self, grid: IntervalGrid) -> int:
        """The first profile interval that begins at or after the feed start (none straddles it)."""
        start = grid.start_of(self.config.start_ms)
        return start if start >= self.config.start_ms else grid.next_start(start)

    def _emitted(self, profile: FeedProfile, start: int) -> tuple[int, str] | None:
        raw = self.store.get(emitted_key(profile.id, start))
        if raw is None:
            return None
        revision, digest = orjson.loads(raw)
        return revision, digest

    def _assemble(
        self, profile: FeedProfile, grid: IntervalGrid, start: int, watermark: int | None, restating: bool
    ) -> FeedRecord | None:
        end = grid.next_start(start)
        if not restating and (watermark is None or watermark < end + profile.grace_ms):
            return None
        partials = self._partials(base_starts(self.config.base, start, end))
        if partials is None:
            return None
        cells = merged_cells(partial.cells for partial in partials)
        digest = hashlib.sha256(
            orjson.dumps([[q, m, acc.snapshot()] for (q, m), acc in sorted(cells.items())])
        ).hexdigest()
        emitted = self._emitted(profile, start)
        if emitted is not None and (not restating or emitted[1] == digest):
            return None
        revision = 1 if emitted is None else emitted[0] + 1
        self.store.set(emitted_key(profile.id, start), orjson.dumps([revision, digest]))
        return interval_record(profile, start, cells, revision, kpi=self.config.kpi)

    def _partials(self, starts: Sequence[int]) -> list[Partial] | None:
        found = []
        for base_start in starts:
            for partition in range(self.config.partitions):
                raw = self.store.get(partial_key(base_start, partition))
                if raw is None:
                    return None
                found.append(Partial.decode(raw))
        return found
