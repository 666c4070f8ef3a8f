"""A source partition's open cells, read from its correlation state for provisional updates.

Read-only and outside the batch: the shell reads the committed state between batches, so a read
sees a whole batch or none of it. The base intervals read are those the partition has not closed
(from its next interval to close on), within ``lookback_ms`` of its event clock: the ones a
provisional update can still be due for.
"""

from __future__ import annotations

import orjson

from streamvane.kpi.intervals import IntervalGrid
from streamvane.records.open_cells import OpenCells
from streamvane.stages import keys
from streamvane.stages.correlate import read_cells
from streamvane.stages.store import Store


def open_cells(store: Store, partition: int, base: IntervalGrid, lookback_ms: int) -> OpenCells:
    raw = store.get(keys.META)
    meta = orjson.loads(raw) if raw is not None else {}
    clocks = [t for t in (meta.get("newest_ms"), meta.get("tick_ms")) if t is not None]
    if not clocks:
        return OpenCells(partition, None, {})
    as_of = max(clocks)
    start = max(meta["next_close_ms"], base.start_of(as_of - lookback_ms))
    intervals = {}
    while start <= as_of:
        cells = read_cells(store, start)
        if cells:
            intervals[start] = cells
        start = base.next_start(start)
    return OpenCells(partition, as_of, intervals)
