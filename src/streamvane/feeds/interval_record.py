"""The feed record of one interval of a profile, over the profile's full grid: the one way a
profile, an interval and its cells become a record (the worker's assembler, ``profiles render``,
tests and benchmarks all build them here).
"""

from __future__ import annotations

from collections.abc import Mapping

from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord, build_record


def interval_record(
    profile: FeedProfile,
    start_ms: int,
    cells: Mapping[tuple[str, str], IntervalAccumulator] | None = None,
    revision: int = 1,
    *,
    kpi: KpiConfig,
    provisional: int = 0,
) -> FeedRecord:
    """The record of the profile's interval holding ``start_ms`` (no cells: every row zero),
    computed under ``kpi``. Its watermark is the interval's end plus the grace: the earliest
    moment the worker emits it. ``provisional`` k >= 1: the interval's k-th provisional update
    instead, standing at event time start + k × ``provisional.every_ms``."""
    start, end = profile.grid().bounds(start_ms)
    every_ms = profile.provisional_every_ms
    watermark_ms = start + provisional * every_ms if provisional and every_ms else end + profile.grace_ms
    return build_record(
        profile_id=profile.id,
        profile_version=profile.version,
        interval_start_ms=start,
        interval_end_ms=end,
        time_zone=profile.time_zone,
        granularity=profile.cadence,
        revision=revision,
        watermark_ms=watermark_ms,
        dimensions=[(d.queue_id, d.media_type) for d in profile.dimensions],
        cells=cells or {},
        service_level_rule=kpi.service_level_rule,
        kpi_fingerprint=kpi.fingerprint,
        provisional=provisional,
    )
