"""One partition of a :class:`~streamvane.tables.batch_table.BatchTable`, as the stages'
:class:`~streamvane.stages.store.Store`: reads go to that partition's RocksDB (seeing the writes
buffered here), writes are buffered, in order, until the table commits them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class PartitionReader(Protocol):
    def get_in(self, partition: int, key: bytes) -> bytes | None: ...


@dataclass(slots=True)
class PartitionWrites:
    reader: PartitionReader
    partition: int
    pending: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    latest: dict[bytes, bytes | None] = field(default_factory=dict)

    def get(self, key: str) -> bytes | None:
        encoded = key.encode()
        if encoded in self.latest:
            return self.latest[encoded]
        return self.reader.get_in(self.partition, encoded)

    def set(self, key: str, value: bytes) -> None:
        self._write(key.encode(), value)

    def delete(self, key: str) -> None:
        self._write(key.encode(), None)

    def _write(self, key: bytes, value: bytes | None) -> None:
        self.pending.append((key, value))
        self.latest[key] = value

    def take(self) -> list[tuple[bytes, bytes | None]]:
        """The buffered writes, in order; the buffer starts again empty."""
        pending, self.pending, self.latest = self.pending, [], {}
        return pending
