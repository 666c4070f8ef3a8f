"""A worker killed between any two state writes recovers to exactly the uninterrupted result."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from streamvane.simulator.contact_center import simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from streamvane.stages import outbox
from streamvane.stages.store import MAX_VALUE_BYTES, BatchWrites, DictStore, recover
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
            crashy.restart()
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

    largest_write: int = 0
    redo_bytes: int = 0

    def set(self, key: str, value: bytes) -> None:
        if len(key) + len(value) > 1_048_576:
            raise AssertionError(f"{key}: a {len(value)}-byte changelog record would be refused")
        self.largest_write = max(self.largest_write, len(value))
        if key.startswith("b|"):
            self.redo_bytes += len(value)
        super().set(key, value)


def test_a_batch_whose_redo_record_is_megabytes_is_written_in_slices_and_survives_a_kill() -> None:
    """A backlog batch touches thousands of conversations: its redo record is megabytes. Before,
    it went into one value, Kafka refused it, and the same batch failed again at every restart."""
    spec = SimulationSpec(agents=150, hours=2.0, seed=5)
    lines = [line for _, line in delivery(spec, simulate(spec))]
    profiles = (PROFILES[0],)
    clean = Pipeline(profiles, start_ms=spec.start_ms, partitions=1)
    clean.feed(lines, batch=len(lines), tick_ms=spec.end_ms + 6 * 3_600_000)

    store = KafkaSizedStore()
    pipeline = Pipeline(profiles, start_ms=spec.start_ms, partitions=1)
    pipeline.stores = [store]
    store.writes_left = 2  # dies part-way through writing the batch's redo slices
    with pytest.raises(Killed):
        pipeline.feed(lines, batch=len(lines))
    assert store.get("b") is None and store.get("b|0") is not None, "killed between slices"
    store.writes_left = 10**9
    pipeline.restart()
    pipeline.feed(lines, batch=len(lines), tick_ms=spec.end_ms + 6 * 3_600_000)
    assert store.redo_bytes > 2 * 1_048_576 and store.largest_write <= MAX_VALUE_BYTES, (
        "the redo record was over 1 MiB, written in slices below the limit"
    )
    assert _final(pipeline) == _final(clean)
    assert not any(key.startswith(("b", "o")) for key in store.data), "redo and outbox are cleared"
