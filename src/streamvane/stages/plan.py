"""What every stage derives the same way from the feed profiles, so the worker, `replay
recompute` and the tests cannot disagree: the base grid, the closing policy, the feed start.
"""

from __future__ import annotations

from streamvane.feeds.profile import FeedProfile
from streamvane.kpi.closing import ClosingPolicy
from streamvane.kpi.intervals import Granularity, IntervalGrid, parse_instant

DEFAULT_GRACE_MS = 16 * 60_000
DEFAULT_HORIZON_MS = 2 * 3_600_000


def base_grid() -> IntervalGrid:
    """The tables' granularity: PT15M on UTC quarter hours, which tiles every profile's intervals."""
    return IntervalGrid(Granularity.PT15M, "UTC")


def closing_policy(profiles: tuple[FeedProfile, ...]) -> ClosingPolicy:
    """Base intervals close with the smallest grace and restate up to the largest horizon."""
    grace = min((p.grace_ms for p in profiles), default=DEFAULT_GRACE_MS)
    horizon = max((p.correction_horizon_ms for p in profiles), default=DEFAULT_HORIZON_MS)
    return ClosingPolicy(grace, max(grace, horizon))


def feed_start_ms(base: IntervalGrid, feed_start: str) -> int:
    """The base interval the feed starts in (ISO-8601 instant with an offset)."""
    return base.start_of(parse_instant(feed_start))
