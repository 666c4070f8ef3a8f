"""What a feed record must contain, derived from `compute` — the reference for topology tests."""

from __future__ import annotations

import orjson

from streamvane.kpi.compute import compute
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import Granularity, IntervalGrid
from streamvane.kpi.service_level import with_service_level
from streamvane.records.feed_record import FeedRecord

Cells = dict[tuple[str, str], object]


def expected_cells(cadence: str, time_zone: str, lines: list[bytes]) -> dict[int, Cells]:
    """Interval start → (queue, media) → metric stats, as `compute` gives them (the service
    level frozen in under the default switches, as the worker writes it)."""
    grid = IntervalGrid(Granularity.parse(cadence), time_zone)
    config = KpiConfig()
    aggregator, _ = compute(lines, grid, config, 2**62)
    out: dict[int, Cells] = {}
    for (queue, media, start), acc in aggregator.cells.items():
        out.setdefault(start, {})[(queue, media)] = with_service_level(
            acc.snapshot(), config.service_level_rule
        )
    return out


def record_cells(record: FeedRecord) -> Cells:
    """The non-empty rows of a record in the same shape."""
    return {
        (row.queue_id, row.media_type): {m.metric: (m.count, m.sum, m.min, m.max) for m in row.metrics}
        for row in record.rows
        if row.metrics
    }


def offered(record: FeedRecord, queue: str) -> int:
    row = next(r for r in record.rows if r.queue_id == queue)
    return next((m.count for m in row.metrics if m.metric == "nOffered"), 0)


def late_offer(at_ms: int, queue: str, conversation: str) -> bytes:
    """One acd.start (bare detail object): the smallest event that changes a number."""
    body = {
        "eventTime": at_ms,
        "conversationId": conversation,
        "sessionId": f"s-{conversation}",
        "mediaType": "VOICE",
        "queueId": queue,
    }
    topic = f"v2.detail.events.conversation.{conversation}.acd.start"
    return orjson.dumps({"topicName": topic, "eventBody": body})
