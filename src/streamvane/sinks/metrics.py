"""Prometheus metrics of a dispatcher (one registry per process; names prefixed ``streamvane_``).

``streamvane_dead_letters_total`` is the alert metric: any increase means a WFM endpoint did not
get an interval it is owed; ``streamvane_feed_on_time_ratio`` below the profile's
``acceptance.on_time_target`` means its SLA is being missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamvane.broker.group_lag import consumer_lag_gauge


@dataclass
class DispatcherMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.attempts = Counter(
            "streamvane_delivery_attempts",
            "HTTP attempts by profile and status.",
            ["profile", "status"],
            registry=r,
        )
        self.outcomes = Counter(
            "streamvane_delivery_outcomes",
            "Final outcomes by profile and result.",
            ["profile", "result"],
            registry=r,
        )
        self.provisional_outcomes = Counter(
            "streamvane_provisional_outcomes",
            "Provisional updates by profile and outcome: a delivery result, superseded (a newer update "
            "or the final came first), stale (read too late), cancelled-for-final.",
            ["profile", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "streamvane_dead_letters",
            "Records sent to the dead-letter topic.",
            ["profile", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "streamvane_delivery_latency_seconds",
            "From interval close (record emitted) to acknowledged delivery.",
            ["profile"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.on_time_ratio = Gauge(
            "streamvane_feed_on_time_ratio",
            "Share of the profile's intervals due within the rolling window (dispatcher.on_time_window_s) "
            "whose first outcome was a delivery by the acceptance deadline (interval end + grace + "
            "on_time_within_ms).",
            ["profile"],
            registry=r,
        )
        self.reconciliation_cells = Counter(
            "streamvane_reconciliation_cells",
            "Reconciled cells (interval x dimension x payload field) by verdict: ok or out of tolerance.",
            ["profile", "verdict"],
            registry=r,
        )
        self.reconciliation_deviation = Gauge(
            "streamvane_reconciliation_max_relative_deviation",
            "Largest |ours - theirs| / max(1, |theirs|) of the field over the dimensions of the latest "
            "reconciled interval.",
            ["profile", "field"],
            registry=r,
        )
        self.reconciliation_errors = Counter(
            "streamvane_reconciliation_errors",
            "Genesys queries of continuous reconciliation that failed (retried later).",
            ["profile"],
            registry=r,
        )
        self.close_to_ack = Histogram(
            "streamvane_interval_close_to_ack_seconds",
            "From an interval's scheduled close (end + grace) to the endpoint's acknowledgement of its "
            "first delivery.",
            ["profile"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200),
            registry=r,
        )
        self.consumer_lag = consumer_lag_gauge(r)
        self.in_flight = Gauge(
            "streamvane_dispatch_in_flight", "Records read, outcome not yet durable.", registry=r
        )
