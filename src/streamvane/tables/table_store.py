"""A Faust table seen as the stages' :class:`~streamvane.stages.store.Store`, in one partition.

Faust writes a table key to the store and changelog partition of the *current event*. A batch
from ``take_events`` mixes partitions, so each partition's group is processed inside
:func:`in_partition_of`, which makes that group's event the current one.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event


@contextmanager
def in_partition_of(event: Any) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class TableStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str) -> bytes | None:
        value = self.table.get(key.encode())
        return value if value is None else bytes(value)

    def set(self, key: str, value: bytes) -> None:
        self.table[key.encode()] = value

    def delete(self, key: str) -> None:
        self.table.pop(key.encode(), None)
