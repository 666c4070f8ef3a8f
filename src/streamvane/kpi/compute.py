"""The whole pure pipeline, offline: raw event lines → parse → correlate → interval accumulators.

What ``streamvane compute`` runs, what reconciliation and backfills from exported files use, and
what tests compare the streaming topology against. Nothing here reads the clock: ``received_ms``
is when the file's lines were received (the caller passes the wall clock); each line's own
EventBridge ``time``, when it has one, bounds its event time more tightly (see
:mod:`streamvane.genesys.parse`, clock skew).

The watermark is the newest event time correlated minus ``reorder_tolerance_ms``, as in the
worker (``follow_newest``); it only times provisional handles and when unpaired halves give up.
At the end of the input every session is settled (:meth:`Correlator.flush`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streamvane.genesys.events import ConversationEvent, IgnoredEvent, ParseResult, Rejection
from streamvane.genesys.lines import OversizedLine
from streamvane.genesys.parse import REASON_TOO_LARGE, EventParser
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
    lines: Iterable[bytes | OversizedLine],
    grid: IntervalGrid,
    config: KpiConfig,
    received_ms: int,
    on_rejection: RejectionHandler | None = None,
    parser: EventParser | None = None,
) -> tuple[IntervalAggregator, ComputeReport]:
    """Aggregate every line (one JSON event each; blank lines are skipped) into ``grid``."""
    parse = (parser or config.event_parser()).parse
    aggregator = IntervalAggregator(grid)
    correlator = Correlator(config, aggregator, follow_newest=True)
    report = ComputeReport(correlation=correlator.counts)
    accept = correlator.accept
    lines_seen = events = 0
    for number, line in enumerate(lines, start=1):
        if type(line) is bytes:
            if not line or line.isspace():
                continue
            result: ParseResult = parse(line, received_ms)
        else:
            assert isinstance(line, OversizedLine)
            result = Rejection(
                REASON_TOO_LARGE, f"{line.length} bytes exceeds the limit of {line.limit}; not read"
            )
            line = b""
        lines_seen += 1
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
