"""Sample records that check a profile's mapping against its payload schema before real data
does: one quiet interval (every row zero) and one busy one, whose durations and ratios have many
significant decimals (12.345 s, 66.666… %), so a field rounded to more decimals than its schema
allows, or a value the schema's range refuses, fails at validation instead of in production.
"""

from __future__ import annotations

from streamvane.feeds.interval_record import interval_record
from streamvane.feeds.profile import FeedProfile
from streamvane.kpi import metrics as m
from streamvane.kpi.accumulator import IntervalAccumulator
from streamvane.kpi.config import KpiConfig
from streamvane.records.feed_record import FeedRecord

SAMPLE_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_BUSY: tuple[tuple[str, int], ...] = (
    *((m.N_OFFERED, 1),) * 6,
    (m.T_ANSWERED, 12_345),
    (m.T_ANSWERED, 23_457),
    (m.T_ANSWERED, 31_111),
    (m.T_ANSWERED, 8_765),
    (m.T_ANSWERED, 15_433),
    (m.N_OVER_SLA, 1),
    (m.T_ABANDON, 4_321),
    (m.T_SHORT_ABANDON, 4_321),
    (m.T_FLOW_OUT, 1_001),
    (m.T_WAIT, 7_777),
    (m.T_ALERT, 2_003),
    (m.T_TALK_COMPLETE, 180_123),
    (m.T_TALK_COMPLETE, 201_457),
    (m.T_HELD_COMPLETE, 15_551),
    (m.T_ACW, 61_237),
    (m.T_HANDLE, 300_407),
    (m.T_HANDLE, 241_519),
    (m.N_TRANSFERRED, 1),
)


def sample_records(profile: FeedProfile, kpi: KpiConfig | None = None) -> list[FeedRecord]:
    """[quiet interval, busy interval] of ``profile`` (the busy one fills every dimension, or one
    sample queue when the profile lists none), and with provisional updates, the busy interval's
    first update (its body has the provisional marking the contract must accept)."""
    config = kpi or KpiConfig()
    busy = IntervalAccumulator()
    for metric, value in _BUSY:
        busy.add(metric, value)
    dims = [(d.queue_id, d.media_type) for d in profile.dimensions] or [("sample-queue", "voice")]
    cells = {dim: busy for dim in dims}
    out = [
        interval_record(profile, SAMPLE_START_MS, kpi=config),
        interval_record(profile, SAMPLE_START_MS, cells, kpi=config),
    ]
    if profile.provisional is not None:
        out.append(interval_record(profile, SAMPLE_START_MS, cells, kpi=config, provisional=1))
    return out
