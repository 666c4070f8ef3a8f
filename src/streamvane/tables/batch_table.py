"""The app's ``Table`` class (Faust's ``Table`` setting): a changelogged RocksDB table written a
batch at a time.

Why: a plain Faust table sends one changelog record per ``table[k] = v`` through Faust's
producer and acknowledges it on the event loop, about 100–300 µs each, and Faust finds the
partition to write from the current event. Here a stage batch writes into
:class:`~streamvane.tables.partition_writes.PartitionWrites` per partition; :meth:`commit` then
produces every buffered write to the changelog through the confluent producer (same key and
value bytes, a tombstone for a delete: the format Faust's recovery reads), flushes **once**,
and only then writes each partition's RocksDB **once**, with the changelog offset reached.

Crash safety: the local store never holds a write the changelog lacks. The changelog may hold a
prefix of a batch the local store lacks; Faust's recovery reads it back at the next start. The
stages make such a prefix harmless by committing through a redo record
(:class:`~streamvane.stages.store.BatchWrites`).

Needs the ``streamvane://`` store (:class:`~streamvane.tables.batch_store.BatchStore`).
"""

from __future__ import annotations

from collections.abc import Iterable

import faust

from streamvane.broker.producer import OutputProducer
from streamvane.tables.batch_store import BatchStore
from streamvane.tables.partition_writes import PartitionWrites


class BatchTable(faust.Table[bytes, bytes]):
    @property
    def store(self) -> BatchStore:
        data = self.data
        if not isinstance(data, BatchStore):
            raise TypeError(f"table {self.name} needs the streamvane:// store, not {type(data).__name__}")
        return data

    def partition(self, partition: int) -> PartitionWrites:
        """A view of one partition that buffers its writes until :meth:`commit`."""
        return PartitionWrites(self.store, partition)

    async def commit(self, views: Iterable[PartitionWrites], producer: OutputProducer) -> int:
        """Make every view's buffered writes durable: changelog first (one flush), then RocksDB
        (one write batch per partition). Returns how many writes were committed."""
        topic = self.changelog_topic.get_topic_name()
        writes = [(view.partition, view.take()) for view in views]
        reached: dict[int, int] = {}
        count = 0
        for partition, pending in writes:
            if not pending:
                continue

            def stored(offset: int, partition: int = partition) -> None:
                reached[partition] = max(offset, reached.get(partition, -1))

            for key, value in pending:
                producer.produce(topic, value, key, partition=partition, on_stored=stored)
            count += len(pending)
        if count == 0:
            return 0
        await producer.flush()
        store = self.store
        for partition, pending in writes:
            if pending:
                store.write_in(partition, pending, reached.get(partition))
        return count
