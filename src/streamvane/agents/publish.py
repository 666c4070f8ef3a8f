"""Publishing a stage's outbox: send every output, await every acknowledgement, then clear it."""

from __future__ import annotations

from typing import Any

from streamvane.stages import outbox
from streamvane.stages.store import Store
from streamvane.topology.app import Topology


async def publish_outbox(topology: Topology, store: Store) -> int:
    """Returns how many messages were published."""
    outputs = outbox.pending(store)
    if not outputs:
        return 0
    destinations: dict[str, Any] = {
        outbox.PARTIALS: topology.partials,
        outbox.QUARANTINE: topology.quarantine,
        outbox.RECORDS: topology.feed_records,
    }
    sent = []
    for out in outputs:
        topic = destinations[out.destination]
        sent.append(await topic.send(key=out.key, value=out.value, headers=list(out.headers)))
    for future in sent:
        await future
    outbox.clear(store)
    return len(outputs)
