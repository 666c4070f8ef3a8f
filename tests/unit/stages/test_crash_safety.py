"""A worker killed between any two state writes recovers to exactly the uninterrupted result."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.stages import outbox
from streamvane.stages.store import BatchWrites, DictStore, recover
from tests.support.expectations import late_offer
from tests.support.pipeline import Pipeline
from tests.unit.stages.test_pipeline import PROFILES, SPEC


class Killed(Exception):
    """The process died here."""


@dataclass
class DyingStore(DictStore):
    """Dies on the n-th write; the writes before it stay (a local RocksDB survives kill -9)."""

    writes_left: int = 10**9

    def set(self, key: str, value: bytes) -> None:
        self._tick()
        super().set(key, value)

    def delete(self, key: str) -> None:
        self._tick()
        super().delete(key)

    def _tick(self) -> None:
        self.writes_left -= 1
        if self.writes_left < 0:
            raise Killed


def test_kills_at_random_writes_then_redelivery_give_the_uninterrupted_records() -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    tick = SPEC.end_ms + 6 * 3_600_000
    clean = Pipeline(PROFILES[:2], start_ms=SPEC.start_ms)
    clean.feed(lines, tick_ms=tick)

    rng = random.Random(4)
    crashy = Pipeline(PROFILES[:2], start_ms=SPEC.start_ms)
    crashy.stores = [DyingStore() for _ in range(crashy.partitions)]
    kills = 0
    position = 0
    while position < len(lines):
        chunk = lines[position : position + 300]
        for store in crashy.stores:
            assert isinstance(store, DyingStore)
            store.writes_left = rng.randint(0, 400)
        try:
            crashy.feed(chunk, batch=100)
            position += len(chunk)
        except Killed:
            kills += 1
            for store in crashy.stores:
                assert isinstance(store, DyingStore)
                store.writes_left = 10**9
            # restart: Kafka redelivers the uncommitted chunk from its start
            crashy.offsets = [0] * crashy.partitions
            crashy.feed(lines[:position], batch=100)
    for store in crashy.stores:
        assert isinstance(store, DyingStore)
        store.writes_left = 10**9
    crashy.feed([], tick_ms=tick)
    assert kills >= 5
    clean_by_key = {r.idempotency_key: r for r in clean.records}
    assert all(clean_by_key.get(r.idempotency_key) == r for r in crashy.records), (
        "duplicates only as exact copies"
    )
    assert _final(crashy) == _final(clean)
    assert {r.idempotency_key for r in crashy.records} == set(clean_by_key), "nothing missing"


def _final(pipeline: Pipeline) -> dict[tuple[str, int], object]:
    """The last revision per profile and interval (duplicates after a crash collapse here)."""
    out: dict[tuple[str, int], object] = {}
    for record in pipeline.records:
        out[(record.profile_id, record.interval_start_ms)] = record
    return out


def test_an_interrupted_commit_is_finished_by_recover_and_the_outbox_survives() -> None:
    store = DyingStore()

    batch = BatchWrites(store)
    batch.set("a", b"1")
    batch.set("b2", b"2")
    outbox.add(batch, [outbox.Output(outbox.PARTIALS, b"k", b"v")])
    store.writes_left = 2  # the redo record (one slice, then its count) lands, then the worker dies
    with pytest.raises(Killed):
        batch.commit()
    store.writes_left = 10**9
    assert store.get("b2") is None
    assert recover(store)
    assert (store.get("a"), store.get("b2")) == (b"1", b"2")
    assert outbox.pending(store) == [outbox.Output(outbox.PARTIALS, b"k", b"v")]
    assert not recover(store)


@dataclass
class KafkaSizedStore(DyingStore):
    """A changelogged table: a value over Kafka's default 1 MiB message limit cannot be written."""

    def set(self, key: str, value: bytes) -> None:
        if len(key) + len(value) > 1_048_576:
            raise AssertionError(f"{key}: a {len(value)}-byte changelog record would be refused")
        super().set(key, value)


def test_a_batch_quarantining_megabytes_commits_in_bounded_records_and_recovers_after_a_kill() -> None:
    """Twelve refused events of 200 kB each (2.4 MB of quarantine) in one batch: before, the redo
    record carried them all in one value, Kafka refused it, and the same batch failed again at
    every restart."""
    queue = PROFILES[0].dimensions[0].queue_id
    store = KafkaSizedStore()
    pipeline = Pipeline(PROFILES[:1], start_ms=SPEC.start_ms, partitions=1)
    pipeline.stores = [store]
    pipeline.feed([late_offer(SPEC.start_ms + 6 * 3_600_000, queue, "now")])  # the watermark moves on
    padding = "x" * 200_000
    big = [
        late_offer(SPEC.start_ms + 60_000, queue, f"late-{i}").replace(
            b'"eventBody":{', f'"eventBody":{{"pad":"{padding}",'.encode()
        )
        for i in range(12)
    ]
    assert all(150_000 < len(line) < 256 * 1024 for line in big)
    store.writes_left = 7  # dies part-way through writing the batch's redo slices or applying them
    with pytest.raises(Killed):
        pipeline.feed(big, batch=100)
    store.writes_left = 10**9
    pipeline.offsets = [1]  # the batch is delivered again after the restart
    pipeline.feed(big, batch=100)
    assert [(q.reason, q.raw) for q in pipeline.quarantined] == [("too-late", line) for line in big]
    assert not any(key.startswith(("b", "o")) for key in store.data), "redo and outbox are cleared"
