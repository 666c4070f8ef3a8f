"""Faust wiring only: the app factory, every topic once (name, partitions, configs), codecs.

Holds no business rules; what a KPI means lives in `streamvane.kpi`, what an event is in
`streamvane.genesys`. May import the core; the core never imports this package.
"""
