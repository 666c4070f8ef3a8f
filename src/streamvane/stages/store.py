"""The key-value store a stage keeps its state in: a changelogged table in the topology."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import orjson


class Store(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(slots=True)
class DictStore:
    """In-memory store, for tests and the offline tools."""

    data: dict[str, bytes] = field(default_factory=dict)

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


REDO_KEY = "b"
OUTBOX_KEY = "o"
# Every value a stage writes becomes one changelog record: it must stay well below Kafka's 1 MiB
# default message limit, or the changelog write fails and the same batch fails again after a
# restart. Large values (a big batch's redo record, its outbox) are split into slices this large.
MAX_VALUE_BYTES = 512 * 1024


def slice_key(key: str, index: int) -> str:
    return f"{key}|{index}"


def write_sliced(store: Store, key: str, blob: bytes, max_bytes: int = MAX_VALUE_BYTES) -> None:
    """``blob`` under ``key|0 … key|n-1``, then ``key`` = n: the count, written last, commits them."""
    count = 0
    for count, start in enumerate(range(0, len(blob), max_bytes), start=1):
        store.set(slice_key(key, count - 1), blob[start : start + max_bytes])
    store.set(key, orjson.dumps(count))


def read_sliced(store: Store, key: str) -> bytes | None:
    """The blob written by :func:`write_sliced`, or None when ``key`` was never committed."""
    raw = store.get(key)
    if raw is None:
        return None
    parts = []
    for index in range(orjson.loads(raw)):
        part = store.get(slice_key(key, index))
        assert part is not None, f"slice {index} of {key} is missing"
        parts.append(part)
    return b"".join(parts)


def delete_sliced(store: Store, key: str) -> None:
    raw = store.get(key)
    if raw is None:
        return
    store.delete(key)
    for index in range(orjson.loads(raw)):
        store.delete(slice_key(key, index))


@dataclass(slots=True)
class BatchWrites:
    """A batch's writes, kept in memory until :meth:`commit` makes them durable all at once.

    The underlying table writes one key at a time, and a worker can die between two of them.
    So ``commit`` first writes every change as a redo record — in slices of at most
    :data:`MAX_VALUE_BYTES` (``b|0``, ``b|1``, …) committed by their count (``b``), written
    last — then applies the changes, then deletes the redo record. A worker that died in between
    finds the redo record at its next batch (:func:`recover`) and applies it again — the values
    are full states, so applying twice is the same as once; slices without a count belong to a
    batch that never committed and are overwritten by the next one. Reads see the batch's own
    writes.
    """

    base: Store
    changes: dict[str, bytes | None] = field(default_factory=dict)

    def get(self, key: str) -> bytes | None:
        if key in self.changes:
            return self.changes[key]
        return self.base.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.changes[key] = value

    def delete(self, key: str) -> None:
        self.changes[key] = None

    def commit(self) -> None:
        if not self.changes:
            return
        redo = {
            key: (value.decode("latin-1") if value is not None else None)
            for key, value in self.changes.items()
        }
        write_sliced(self.base, REDO_KEY, orjson.dumps(redo))
        _apply(self.base, self.changes)
        delete_sliced(self.base, REDO_KEY)
        self.changes = {}


def recover(store: Store) -> bool:
    """Finish a batch whose commit was interrupted; True when there was one."""
    raw = read_sliced(store, REDO_KEY)
    if raw is None:
        return False
    changes = {
        key: (value.encode("latin-1") if value is not None else None)
        for key, value in orjson.loads(raw).items()
    }
    _apply(store, changes)
    delete_sliced(store, REDO_KEY)
    return True


def _apply(store: Store, changes: dict[str, bytes | None]) -> None:
    for key, value in changes.items():
        if value is None:
            store.delete(key)
        else:
            store.set(key, value)
