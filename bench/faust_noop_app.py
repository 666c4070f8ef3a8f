"""A Faust app whose only agent reads the input topic (``take_events`` batches, or one event at a time
with ``NOOP_MODE=iterate``) and does nothing else:
the ceiling any Faust agent can reach on this machine. Configured by environment variables;
writes the elapsed seconds to ``NOOP_RESULT`` once it has seen ``NOOP_EXPECTED`` events.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import faust

app = faust.App(
    os.environ["NOOP_APP_ID"],
    broker=f"kafka://{os.environ['NOOP_BOOTSTRAP']}",
    web_enabled=False,
    datadir=os.environ.get("NOOP_DATADIR", "{conf.name}-data"),
    consumer_auto_offset_reset="earliest",
    value_serializer="raw",
    key_serializer="raw",
    stream_buffer_maxsize=int(os.environ.get("NOOP_BUFFER", "4096")),
    broker_max_poll_records=int(os.environ.get("NOOP_POLL_RECORDS", "0")) or None,
    consumer_max_fetch_size=int(os.environ.get("NOOP_FETCH_BYTES", str(1024**2))),
)
source = app.topic(os.environ["NOOP_TOPIC"], key_type=bytes, value_type=bytes)
expected = int(os.environ["NOOP_EXPECTED"])


async def report(seen: int, started: float) -> None:
    result = f"{seen} {time.perf_counter() - started}"
    await asyncio.to_thread(Path(os.environ["NOOP_RESULT"]).write_text, result)


@app.agent(source, concurrency=1)
async def noop(stream: Any) -> None:
    seen, started = 0, 0.0
    if os.environ.get("NOOP_MODE") == "iterate":
        async for _event in stream.events():
            if not seen:
                started = time.perf_counter()
            seen += 1
            if seen == expected:
                await report(seen, started)
        return
    async for events in stream.take_events(5000, 1.0):
        if not seen:
            started = time.perf_counter()
        seen += len(events)
        if seen >= expected:
            await report(seen, started)


if __name__ == "__main__":
    app.main()
