"""Stage 3: every partition's partials → Avro feed records on the compacted feed topic."""

from __future__ import annotations

import logging
from typing import Any

from streamvane.agents.publish import publish_outboxes
from streamvane.records.avro import AvroCodec
from streamvane.records.partial import Partial
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.plan import base_grid, feed_start_ms
from streamvane.topology.app import Topology

log = logging.getLogger(__name__)


def register(topology: Topology) -> None:
    settings = topology.settings
    worker = settings.worker
    base = base_grid()
    config = AssemblerConfig(
        settings.profiles,
        settings.kpi,
        base,
        settings.kafka.partitions,
        feed_start_ms(base, worker.feed_start),
    )
    codec = AvroCodec()
    table = topology.assembly

    @topology.app.agent(topology.partials, name="assemble", concurrency=1)
    async def assemble(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, worker.batch_within_s):
            store = table.partition(0)
            records = Assembler(config, store, codec).accept_batch([Partial.decode(e.value) for e in events])
            await table.commit([store], topology.output)
            if await publish_outboxes(topology, [store]):
                await table.commit([store], topology.output)
            for record in records:
                topology.metrics.records.labels(record.profile_id).inc()
                if record.revision > 1:
                    topology.metrics.restatements.labels(record.profile_id).inc()
                log.info(
                    "record profile=%s interval_start=%d revision=%d rows=%d",
                    record.profile_id,
                    record.interval_start_ms,
                    record.revision,
                    len(record.rows),
                )
