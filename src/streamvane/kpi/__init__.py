"""PURE core: Genesys-exact interval KPI math, interval and time-zone math, correlation state.

Must never import Kafka, Faust, HTTP, RocksDB, Prometheus or the settings module.
"""
