"""PURE: the feed contract and everything derived from it without I/O: profiles, the KPI mapping,
payload rendering and schemas, requests, reconciliation, SLA acceptance, aggregates queries.
Must never import Kafka, Faust, HTTP, RocksDB or the settings module (import-linter enforces it).
"""
