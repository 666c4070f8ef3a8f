"""Publishing stages' outboxes: send every output, await every acknowledgement, then clear them
(the clears are buffered writes: the caller commits its table after)."""

from __future__ import annotations

from collections.abc import Iterable

from streamvane.stages import outbox
from streamvane.stages.store import Store
from streamvane.topology.app import Topology


async def publish_outboxes(topology: Topology, stores: Iterable[Store]) -> int:
    """Returns how many messages were published (one flush for all of them)."""
    topics = topology.settings.topics
    destinations = {
        outbox.PARTIALS: topology.settings.partials_topic,
        outbox.QUARANTINE: topics.quarantine,
        outbox.RECORDS: topics.feed_records,
        outbox.PROVISIONAL: topics.provisional,
    }
    published: list[Store] = []
    count = 0
    for store in stores:
        outputs = outbox.pending(store)
        if not outputs:
            continue
        for out in outputs:
            topology.output.produce(destinations[out.destination], out.value, out.key, list(out.headers))
        count += len(outputs)
        published.append(store)
    if count:
        await topology.output.flush()
        for store in published:
            outbox.clear(store)
    return count
