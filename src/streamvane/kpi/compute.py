"""The whole pure pipeline, offline: raw event lines → parse → correlate → interval accumulators.

What ``streamvane compute`` runs, what reconciliation and backfills from exported files use, and
what tests compare the streaming topology against. ``now_ms`` only bounds the parser's far-future
check; nothing here reads the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streamvane.genesys.events import ConversationEvent, IgnoredEvent, Rejection
from streamvane.genesys.parse import EventParser
from streamvane.kpi.aggregate import IntervalAggregator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.correlation import CorrelationCounts, Correlator
from streamvane.kpi.intervals import IntervalGrid

RejectionHandler = Callable[[int, bytes, Rejection], None]


@dataclass(slots=True)
class ComputeReport:
    """Counts of everything read; ``rejected`` and ``ignored`` are keyed by reason / topic suffix."""

    lines: int = 0
    events: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    correlation: CorrelationCounts = field(default_factory=CorrelationCounts)


def compute(
    lines: Iterable[bytes],
    grid: IntervalGrid,
    config: KpiConfig,
    now_ms: int,
    on_rejection: RejectionHandler | None = None,
    parser: EventParser | None = None,
) -> tuple[IntervalAggregator, ComputeReport]:
    """Aggregate every line (one JSON event each; blank lines are skipped) into ``grid``."""
    parse = (parser or EventParser()).parse
    aggregator = IntervalAggregator(grid)
    correlator = Correlator(config, aggregator)
    report = ComputeReport(correlation=correlator.counts)
    accept = correlator.accept
    lines_seen = events = 0
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        lines_seen += 1
        result = parse(line, now_ms)
        if type(result) is ConversationEvent:
            events += 1
            accept(result)
        elif type(result) is IgnoredEvent:
            report.ignored[result.topic_suffix] += 1
        else:
            assert isinstance(result, Rejection)
            report.rejected[result.reason] += 1
            if on_rejection is not None:
                on_rejection(number, line, result)
    report.lines, report.events = lines_seen, events
    correlator.flush()
    return aggregator, report
