"""The RocksDB store behind our tables, registered with Faust for the ``streamvane://`` store URL
(the ``faust.stores`` entry point in ``pyproject.toml``).

It is Faust's own rocksdict store — so Faust opens, assigns, revokes and recovers partitions as
usual, and reads the changelog back into it — plus two calls a stage batch needs:
:meth:`BatchStore.get_in`, a read in a named partition (Faust's reads find the partition from the
current event, which a batch mixing partitions does not have), and :meth:`BatchStore.write_in`,
one RocksDB write batch per partition per agent batch, together with the changelog offset it
has reached (Faust's persisted offset, so recovery after a restart reads only what follows).
"""

from __future__ import annotations

from collections.abc import Iterable

import rocksdict
from faust.stores.rocksdb import Store as RocksDBStore


class BatchStore(RocksDBStore):
    def get_in(self, partition: int, key: bytes) -> bytes | None:
        value = self._db_for_partition(partition).get(key)
        return None if value is None else bytes(value)

    def write_in(
        self, partition: int, writes: Iterable[tuple[bytes, bytes | None]], changelog_offset: int | None
    ) -> None:
        """Apply ``writes`` (None: delete) in order, atomically, with the changelog offset."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in writes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        if changelog_offset is not None:
            batch.put(self.offset_key, str(changelog_offset).encode())
        self._db_for_partition(partition).write(batch)
