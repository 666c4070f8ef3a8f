"""Faust wiring only: the app factory, the worker's metrics and the keyed topic's record kinds.

Holds no business rules; what a KPI means lives in `streamvane.kpi`, what an event is in
`streamvane.genesys`; Kafka outside Faust (producer, topic specs, readers) is `streamvane.broker`.
May import the core; the core never imports this package.
"""
