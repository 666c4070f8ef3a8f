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


@dataclass(slots=True)
class BatchWrites:
    """A batch's writes, kept in memory until :meth:`commit` makes them durable all at once.

    The underlying table writes one key at a time, and a worker can die between two of them.
    So ``commit`` first writes every change as a single redo record (``b``), then applies the
    changes, then deletes the redo record. A worker that died in between finds the redo record
    at its next batch (:func:`recover`) and applies it again — the values are full states, so
    applying twice is the same as once. Reads see the batch's own writes.
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
        self.base.set(REDO_KEY, orjson.dumps(redo))
        _apply(self.base, self.changes)
        self.base.delete(REDO_KEY)
        self.changes = {}


def recover(store: Store) -> bool:
    """Finish a batch whose commit was interrupted; True when there was one."""
    raw = store.get(REDO_KEY)
    if raw is None:
        return False
    changes = {
        key: (value.encode("latin-1") if value is not None else None)
        for key, value in orjson.loads(raw).items()
    }
    _apply(store, changes)
    store.delete(REDO_KEY)
    return True


def _apply(store: Store, changes: dict[str, bytes | None]) -> None:
    for key, value in changes.items():
        if value is None:
            store.delete(key)
        else:
            store.set(key, value)
