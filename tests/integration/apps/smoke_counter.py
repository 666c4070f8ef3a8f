"""A minimal Faust app for the foundation smoke test: counts messages per key in a RocksDB table.

Run as ``python smoke_counter.py worker``; configured by environment variables so each test run
gets its own app id, topics and data directory. A message whose value is ``?`` is a probe: the
app answers on the reply topic with the key's current count, without changing it, which lets a
test read the table after a restart.
"""

from __future__ import annotations

import os
from typing import Any

import faust

app = faust.App(
    os.environ["SMOKE_APP_ID"],
    broker=f"kafka://{os.environ['SMOKE_BOOTSTRAP']}",
    store="rocksdb://",
    datadir=os.environ["SMOKE_DATADIR"],
    topic_partitions=int(os.environ["SMOKE_PARTITIONS"]),
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    table_standby_replicas=0,
)
words = app.topic(
    os.environ["SMOKE_IN_TOPIC"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
replies = app.topic(
    os.environ["SMOKE_OUT_TOPIC"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
counts = app.Table(
    "counts",
    default=int,
    key_type=str,
    value_type=int,
    options={"block_cache_size": 8 * 1024 * 1024, "write_buffer_size": 4 * 1024 * 1024},
)


@app.agent(words, concurrency=1)
async def count(stream: faust.StreamT[Any]) -> None:
    async for event in stream.events():
        key = event.key.decode()
        if event.value == b"?":
            await replies.send(key=event.key, value=str(counts[key]).encode())
        else:
            counts[key] += 1


if __name__ == "__main__":
    app.main()
