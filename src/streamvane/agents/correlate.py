"""Stage 2's shell: per keyed partition, correlate bundles of events into KPI cells and close
intervals.

Takes a few keyed-topic records (bundles, ticks) per batch; each partition's part runs through
:class:`~streamvane.stages.correlate.PartitionProcessor` against its partition of the state
table. The stage applies a partition's records only without a gap. Should the consumer skip some
(faust-streaming drops a fetched record when its flow is suspended mid-delivery, e.g. by a
rebalance, and then commits past it), the agent reads the skipped records directly from the
topic (no group) and applies them before the batch. Only when that fails does it seek the
partition back (Faust's ``Consumer.seek``, again should that seek be undone:
:mod:`streamvane.agents.rereads`); a seek alone is not enough, as records fetched before it
move Faust's read position past the ones it reads again.

Then, for the whole batch: one table commit (changelog, one flush; RocksDB, one write
batch per partition), the outboxes (partials, late-data quarantine) published with one flush,
and their clearing committed.

With provisional updates in any profile, a timer sends each active keyed partition's open cells
(:mod:`streamvane.stages.open_cells`) to the partials topic every ``worker.open_cells_every_s``,
read from the committed state between batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any, NamedTuple

from aiokafka.errors import IllegalStateError
from faust.types import TP

from streamvane.agents.gap_fill import apply_filling_gaps
from streamvane.agents.publish import publish_outboxes
from streamvane.agents.rereads import Rereads
from streamvane.broker.producer import logged_only
from streamvane.broker.topic_reader import read_range
from streamvane.stages.bundles import BundleError, decode
from streamvane.stages.correlate import (
    BatchResult,
    BundleItem,
    Item,
    PartitionProcessor,
    ProcessorConfig,
    TickItem,
)
from streamvane.stages.open_cells import open_cells
from streamvane.stages.plan import base_grid, closing_policy, feed_start_ms
from streamvane.stages.quarantine import quarantine_message
from streamvane.topology.app import Topology, is_bundle, is_tick

log = logging.getLogger(__name__)

REASON_NOT_A_BUNDLE = "not-a-bundle"


class KeyedRecord(NamedTuple):
    """A keyed-topic record as the agent reads it, from Faust's stream or read directly."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Any
    value: bytes | None


def from_event(event: Any) -> KeyedRecord:
    m = event.message
    return KeyedRecord(m.topic, m.partition, m.offset, m.key, m.headers, event.value)


def from_message(msg: Any) -> KeyedRecord:
    return KeyedRecord(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.headers(), msg.value())


def register(topology: Topology) -> None:
    settings = topology.settings
    worker = settings.worker
    base = base_grid()
    closing = closing_policy(settings.profiles)
    start_ms = feed_start_ms(base, worker.feed_start)
    table, metrics = topology.state, topology.metrics

    def processor(partition: int, store: Any) -> PartitionProcessor:
        config = ProcessorConfig(
            settings.kpi,
            base,
            closing,
            start_ms,
            worker.max_delivery_delay_ms,
            partition,
            settings.topics.events,
        )
        return PartitionProcessor(config, store)

    def items(records: list[KeyedRecord]) -> list[Item]:
        out: list[Item] = []
        for record in records:
            if is_tick(record.key, record.headers):
                out.append(TickItem(int(record.value or b"0"), record.offset))
                continue
            try:
                if not is_bundle(record.headers):
                    raise BundleError("no streamvane.bundle header")
                out.append(BundleItem(record.offset, decode(record.value or b"")))
            except BundleError as exc:
                quarantine_foreign(record, str(exc))
        return out

    def quarantine_foreign(message: KeyedRecord, detail: str) -> None:
        """A keyed-topic record this worker cannot read (written by something else, or another
        version): quarantined, never silently skipped."""
        q_value, headers = quarantine_message(
            message.value or b"",
            REASON_NOT_A_BUNDLE,
            detail,
            message.topic,
            message.partition,
            message.offset,
        )
        topology.output.produce(settings.topics.quarantine, q_value, None, headers)
        metrics.quarantined.labels(REASON_NOT_A_BUNDLE).inc()
        log.error(
            "quarantined reason=%s source=%s/%s/%s: %s",
            REASON_NOT_A_BUNDLE,
            message.topic,
            message.partition,
            message.offset,
            detail,
        )

    earliest: dict[int, int] = {}  # keyed partition → its first offset still held
    rereads = Rereads(time.monotonic)

    async def earliest_offset(partition: int, refresh: bool = False) -> int:
        if refresh or partition not in earliest:
            tp = TP(settings.keyed_topic, partition)
            earliest[partition] = (await topology.app.consumer.earliest_offsets(tp)).get(tp, 0)
        return earliest[partition]

    async def read_again(partition: int, gap_from: int, group: list[Any]) -> None:
        """The consumer skipped a keyed record: read the partition again from it."""
        if not rereads.should_seek(partition, gap_from, group[0].message.offset, group[-1].message.offset):
            return  # records fetched before the seek, still arriving
        first = await earliest_offset(partition, refresh=True)
        if first > gap_from:
            log.error(
                "keyed partition %d: records %d..%d were deleted (retention) before they were applied",
                partition,
                gap_from,
                first - 1,
            )
            rereads.clear(partition)
            return  # the next batch expects the first record still held
        log.warning(
            "keyed partition %d: record %d was skipped by the consumer; reading again from it",
            partition,
            gap_from,
        )
        try:
            await topology.app.consumer.seek(TP(settings.keyed_topic, partition), gap_from)
        except IllegalStateError:
            log.warning("keyed partition %d: no longer assigned here; its next owner reads it", partition)
            rereads.clear(partition)

    async def apply(partition: int, store: Any, group: list[Any], first: int) -> BatchResult:
        """The partition's part of the batch, with any records the consumer skipped before it
        read directly from the topic and applied first."""
        stage = processor(partition, store)

        async def read_missing(start: int, end: int) -> list[Item]:
            read = partial(read_range, topology.kafka, settings.keyed_topic, partition, start, end)
            missing = await asyncio.get_running_loop().run_in_executor(None, read)
            if missing:
                log.warning(
                    "keyed partition %d: records %d..%d were skipped by the consumer; read directly",
                    partition,
                    start,
                    missing[-1].offset(),
                )
            return items([from_message(m) for m in missing])

        batch = items([from_event(e) for e in group])
        results = await apply_filling_gaps(lambda some: stage.process(some, first), batch, read_missing)
        for earlier in results[:-1]:
            record(partition, earlier)
        return results[-1]

    @topology.app.agent(topology.keyed, name="correlate", concurrency=1)
    async def correlate(stream: Any) -> None:
        async for events in stream.take_events(worker.bundles_per_batch, worker.batch_within_s):
            groups: dict[int, list[Any]] = {}
            metrics.keyed_taken.inc(len(events))
            for event in events:
                groups.setdefault(event.message.partition, []).append(event)
            stores, results = [], []
            for partition, group in sorted(groups.items()):
                store = table.partition(partition)
                first = await earliest_offset(partition)
                results.append((partition, await apply(partition, store, group, first)))
                stores.append(store)
            await table.commit(stores, topology.output)
            if await publish_outboxes(topology, stores):
                await table.commit(stores, topology.output)
            for partition, result in results:
                if result.gap_from is not None:
                    await read_again(partition, result.gap_from, groups[partition])
                else:
                    rereads.clear(partition)
                record(partition, result)

    provisional = [p for p in settings.profiles if p.provisional is not None]
    if provisional:
        lookback_ms = max(p.grid().granularity.ms + p.correction_horizon_ms for p in provisional)
        app = topology.app

        @app.timer(worker.open_cells_every_s)  # type: ignore[untyped-decorator]
        async def send_open_cells() -> None:
            if app.rebalancing or app.in_recovery:
                return
            mine = sorted(
                tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.keyed_topic
            )
            for partition in mine:
                cells = open_cells(table.partition(partition), partition, base, lookback_ms)
                topology.output.produce(
                    settings.partials_topic, cells.encode(), cells.key.encode(), on_ack=logged_only
                )
            topology.output.poll(0)

    def record(partition: int, result: BatchResult) -> None:
        metrics.applied.inc(result.applied)
        metrics.redelivered.inc(result.redelivered)
        metrics.partials.inc(len(result.partials))
        for outcome, count in result.counts.as_dict().items():
            if count > 0:
                metrics.correlation.labels(outcome).inc(count)
        if result.before_feed_start:
            metrics.correlation.labels("before_feed_start").inc(result.before_feed_start)
        for q in result.quarantined:
            metrics.quarantined.labels(q.reason).inc()
        if result.watermark_ms is not None:
            metrics.watermark.labels(str(partition)).set(result.watermark_ms / 1000)
        log.debug(
            "partition=%d applied=%d redelivered=%d watermark=%s partials=%d quarantined=%d",
            partition,
            result.applied,
            result.redelivered,
            result.watermark_ms,
            len(result.partials),
            len(result.quarantined),
        )
