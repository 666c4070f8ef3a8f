"""Prometheus metrics of a worker: the core returns counts, the shell records them here.

One registry per worker (no module-level collectors), served on ``worker.metrics_port`` when it
is set. Names are prefixed ``streamvane_``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from streamvane.broker.group_lag import consumer_lag_gauge


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_in = Counter("streamvane_events_in", "Input records read by ingest.", registry=r)
        self.quarantined = Counter(
            "streamvane_quarantined", "Records sent to quarantine, by reason.", ["reason"], registry=r
        )
        self.bundles = Counter(
            "streamvane_bundles", "Bundles (events of one keyed partition) written by ingest.", registry=r
        )
        self.applied = Counter("streamvane_events_applied", "Events correlated into KPI state.", registry=r)
        self.redelivered = Counter(
            "streamvane_events_redelivered", "Redelivered events skipped by their offset.", registry=r
        )
        self.partials = Counter("streamvane_partials", "Per-partition interval partials emitted.", registry=r)
        self.keyed_taken = Counter(
            "streamvane_keyed_records_taken",
            "Keyed-topic records (bundles, ticks) the correlate agent took in its batches: with "
            "applied standing still, tells a stage skipping records from an agent that gets none.",
            registry=r,
        )
        self.correlation = Counter(
            "streamvane_correlation_outcomes",
            "What correlation did besides recording metrics (duplicates, unmatched halves, handles "
            "placed at user.end or moved to a late acw, …), by outcome.",
            ["outcome"],
            registry=r,
        )
        self.records = Counter(
            "streamvane_feed_records", "Feed records emitted, by profile.", ["profile"], registry=r
        )
        self.watermark = Gauge(
            "streamvane_watermark_timestamp_seconds",
            "Event-time watermark per keyed partition (Unix seconds); lag behind the wall clock is "
            "time() - this, so a stalled watermark shows as growing lag.",
            ["partition"],
            registry=r,
        )
        self.provisional = Counter(
            "streamvane_provisional_updates",
            "Provisional updates of open intervals sent to the provisional topic, by profile.",
            ["profile"],
            registry=r,
        )
        self.restatements = Counter(
            "streamvane_restatements",
            "Feed records that restate an interval already emitted (revision > 1), by profile.",
            ["profile"],
            registry=r,
        )
        self.consumer_lag = consumer_lag_gauge(r)
        self.history_lost = Counter(
            "streamvane_input_history_lost",
            "Input records deleted (retention) before ingest read them: events missing from the KPIs.",
            registry=r,
        )
        self.unmapped_offered = Counter(
            "streamvane_drift_unmapped_offered",
            "Offered interactions of queues that carry traffic but are listed in no dimension of the "
            "profile (routing drift), by profile and queue.",
            ["profile", "queue_id", "media"],
            registry=r,
        )
        self.silent_queues = Gauge(
            "streamvane_drift_silent_queues",
            "Listed queues without traffic for longer than the profile's silent_after_ms, by profile.",
            ["profile"],
            registry=r,
        )

    def summary(self) -> str:
        """One line of the totals so far, for the worker's periodic progress log: whether each
        stage moves (events in, bundles, applied, partials, records) and how far event time is."""

        def total(name: str) -> int:
            samples = [
                s.value
                for m in self.registry.collect()
                if m.name == name
                for s in m.samples
                if s.name == f"{name}_total"
            ]
            return int(sum(samples))

        marks = [
            s.value
            for m in self.registry.collect()
            if m.name == "streamvane_watermark_timestamp_seconds"
            for s in m.samples
        ]
        lag = [
            s.value for m in self.registry.collect() if m.name == "streamvane_consumer_lag" for s in m.samples
        ]
        watermark = (
            datetime.fromtimestamp(min(marks), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if marks else "none yet"
        )
        return (
            f"events in {total('streamvane_events_in')}, ingest lag {int(sum(lag)) if lag else 'unknown'}, "
            f"bundles {total('streamvane_bundles')}, keyed taken {total('streamvane_keyed_records_taken')}, "
            f"applied {total('streamvane_events_applied')}, "
            f"redelivered {total('streamvane_events_redelivered')}, "
            f"partials {total('streamvane_partials')}, records {total('streamvane_feed_records')}, "
            f"quarantined {total('streamvane_quarantined')}, watermark (slowest partition here) {watermark}"
        )
