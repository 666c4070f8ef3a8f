"""Stage 3: every partition's partials → Avro feed records on the compacted feed topic.

The partials topic also carries the keyed partitions' open cells (with provisional updates in
any profile): they go to the in-memory :class:`~streamvane.stages.provisional.ProvisionalBoard`,
and after each batch's finals are committed and published, the updates due are sent to the
provisional topic (Avro, ``provisional_record`` schema), keyed like the final they precede.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streamvane.agents.publish import publish_outboxes
from streamvane.feeds.drift import SilenceTracker, unmapped_in
from streamvane.kpi.intervals import format_instant
from streamvane.records.avro import FINGERPRINT_HEADER, AvroCodec
from streamvane.records.feed_record import FeedRecord
from streamvane.records.open_cells import OpenCells, is_open_cells
from streamvane.records.partial import Partial
from streamvane.stages.assemble import Assembler, AssemblerConfig
from streamvane.stages.plan import base_grid, feed_start_ms
from streamvane.stages.provisional import ProvisionalBoard
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
    codec, provisional_codec = AvroCodec(), AvroCodec("provisional_record")
    board = ProvisionalBoard(config, round(worker.provisional_max_lag_s * 1000) or None)
    table = topology.assembly
    profiles = {p.id: p for p in settings.profiles}
    silence = SilenceTracker()
    reported_unmapped: set[tuple[str, str, str]] = set()

    def watch_drift(record: FeedRecord) -> None:
        """Routing drift, live: a metric always, a log line when a queue starts drifting."""
        profile = profiles.get(record.profile_id)
        if profile is None:
            return
        for finding in unmapped_in(profile, record):
            key = (finding.profile_id, finding.queue_id, finding.media_type)
            if record.revision == 1:  # a restatement's interval was counted already
                topology.metrics.unmapped_offered.labels(*key).inc(finding.offered)
            if key not in reported_unmapped:
                reported_unmapped.add(key)
                log.warning(
                    "routing drift: queue %s (%s) carries traffic (%d offered in %s) but profile %s does "
                    "not list it: its interactions are in no payload",
                    finding.queue_id,
                    finding.media_type,
                    finding.offered,
                    format_instant(record.interval_start_ms),
                    profile.id,
                )
        for finding in silence.observe(profile, record):
            log.warning(
                "routing drift: queue %s (%s) of profile %s has had no traffic since %s (silent_after_ms %d)",
                finding.queue_id,
                finding.media_type,
                profile.id,
                format_instant(finding.since_ms or record.interval_start_ms),
                profile.silent_after_ms or 0,
            )
        topology.metrics.silent_queues.labels(profile.id).set(silence.silent_count(profile.id))

    async def send_updates(updates: list[FeedRecord]) -> None:
        header = [(FINGERPRINT_HEADER, provisional_codec.fingerprint.encode())]
        for update in updates:
            topology.output.produce(
                settings.topics.provisional,
                provisional_codec.encode(update),
                update.compaction_key.encode(),
                header,
            )
            topology.metrics.provisional.labels(update.profile_id).inc()
        if updates:
            await topology.output.flush()

    @topology.app.agent(topology.partials, name="assemble", concurrency=1)
    async def assemble(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, worker.batch_within_s):
            store = table.partition(0)
            partials = [Partial.decode(e.value) for e in events if not is_open_cells(e.message.key)]
            records = Assembler(config, store, codec).accept_batch(partials)
            await table.commit([store], topology.output)
            if await publish_outboxes(topology, [store]):
                await table.commit([store], topology.output)
            for event in events:
                if is_open_cells(event.message.key):
                    board.observe(OpenCells.decode(event.value))
            await send_updates(board.due(store, time.time_ns() // 1_000_000))
            for record in records:
                watch_drift(record)
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
