"""Publishing a stage's outbox: send every output, await every acknowledgement, then clear it."""

from __future__ import annotations

from streamvane.stages import outbox
from streamvane.stages.store import Store
from streamvane.topology.app import Topology


async def publish_outbox(topology: Topology, store: Store) -> int:
    """Returns how many messages were published."""
    outputs = outbox.pending(store)
    if not outputs:
        return 0
    topics = topology.settings.topics
    destinations = {
        outbox.PARTIALS: topology.settings.partials_topic,
        outbox.QUARANTINE: topics.quarantine,
        outbox.RECORDS: topics.feed_records,
    }
    for out in outputs:
        topology.output.produce(destinations[out.destination], out.value, out.key, list(out.headers))
    await topology.output.flush()
    outbox.clear(store)
    return len(outputs)
