"""Stage 2: per source partition, correlate events into KPI cells and close intervals.

Consumes the re-keyed events, with the ticks among them, in batches; each partition's part
of a batch runs through :class:`~streamvane.stages.correlate.PartitionProcessor` against the
changelogged state table, then the outbox (partials, late-data quarantine) is published.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streamvane.agents.ingest import received_at
from streamvane.agents.publish import publish_outbox
from streamvane.stages.correlate import (
    EventItem,
    Item,
    MarkerItem,
    PartitionProcessor,
    ProcessorConfig,
    TickItem,
)
from streamvane.stages.markers import Marker
from streamvane.stages.plan import base_grid, closing_policy, feed_start_ms
from streamvane.tables.table_store import TableStore, in_partition_of
from streamvane.topology.app import Topology, is_marker, is_tick

log = logging.getLogger(__name__)


def register(topology: Topology) -> None:
    settings = topology.settings
    worker = settings.worker
    base = base_grid()
    closing = closing_policy(settings.profiles)
    start_ms = feed_start_ms(base, worker.feed_start)

    def processor(partition: int, store: TableStore) -> PartitionProcessor:
        config = ProcessorConfig(
            settings.kpi, base, closing, start_ms, worker.max_delivery_delay_ms, partition
        )
        return PartitionProcessor(config, store)

    @topology.app.agent(topology.keyed, name="correlate", concurrency=1)
    async def correlate(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, worker.batch_within_s):
            now_ms = time.time_ns() // 1_000_000
            groups: dict[int, list[Any]] = {}
            for event in events:
                groups.setdefault(event.message.partition, []).append(event)
            for partition, group in sorted(groups.items()):
                items = [_item(e, now_ms) for e in group]
                with in_partition_of(group[-1]):
                    store = TableStore(topology.state)
                    result = processor(partition, store).process(items, now_ms)
                    published = await publish_outbox(topology, store)
                metrics = topology.metrics
                metrics.applied.inc(result.applied)
                metrics.redelivered.inc(result.redelivered)
                metrics.partials.inc(len(result.partials))
                for outcome, count in result.counts.as_dict().items():
                    if count > 0:
                        metrics.correlation.labels(outcome).inc(count)
                for q in result.quarantined:
                    metrics.quarantined.labels(q.reason).inc()
                if result.watermark_ms is not None:
                    metrics.watermark.labels(str(partition)).set(result.watermark_ms)
                if result.partials or result.quarantined:
                    log.debug(
                        "partition=%d applied=%d redelivered=%d watermark=%s partials=%d quarantined=%d "
                        "published=%d",
                        partition,
                        result.applied,
                        result.redelivered,
                        result.watermark_ms,
                        len(result.partials),
                        len(result.quarantined),
                        published,
                    )


def _item(event: Any, now_ms: int) -> Item:
    """A keyed-topic record as the stage's item: a tick, a watermark marker, or an event."""
    message = event.message
    if is_tick(message.key, message.headers):
        return TickItem(int(event.value))
    if is_marker(message.key, message.headers):
        return MarkerItem(Marker.decode(event.value))
    return EventItem(message.offset, event.value, received_at(message.timestamp, now_ms))
