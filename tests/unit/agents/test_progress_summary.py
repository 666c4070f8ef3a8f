"""The worker's progress line reads its own metrics: what moved, and how far event time is."""

from __future__ import annotations

from streamvane.topology.metrics import WorkerMetrics


def test_the_progress_line_sums_every_stage_and_names_the_slowest_watermark() -> None:
    metrics = WorkerMetrics()
    assert metrics.summary() == (
        "events in 0, ingest lag unknown, bundles 0, keyed taken 0, applied 0, redelivered 0, partials 0, "
        "records 0, quarantined 0, watermark (slowest partition here) none yet"
    )
    metrics.events_in.inc(1200)
    metrics.bundles.inc(8)
    metrics.applied.inc(1150)
    metrics.keyed_taken.inc(9)
    metrics.redelivered.inc(25)
    metrics.partials.inc(4)
    metrics.records.labels("wfm").inc(2)
    metrics.records.labels("legacy").inc(1)
    metrics.quarantined.labels("malformed").inc(3)
    metrics.watermark.labels("0").set(1_793_606_400)  # 2026-11-02T08:00:00Z
    metrics.watermark.labels("1").set(1_793_607_300)
    metrics.consumer_lag.labels("g-ingest", "events", "0").set(40)
    metrics.consumer_lag.labels("g-ingest", "events", "1").set(2)
    assert metrics.summary() == (
        "events in 1200, ingest lag 42, bundles 8, keyed taken 9, applied 1150, redelivered 25, partials 4, "
        "records 3, quarantined 3, watermark (slowest partition here) 2026-11-02T08:00:00Z"
    )
