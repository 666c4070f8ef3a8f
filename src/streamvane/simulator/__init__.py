"""PURE: a deterministic (seeded) contact-center simulator that writes Genesys event streams and
knows the KPIs it generated (its ground truth). Used by tests, the demo and the benchmarks.

Must never import Kafka, Faust, HTTP, RocksDB, Prometheus or the settings module.
"""
