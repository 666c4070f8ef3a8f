"""PURE core: raw Genesys Cloud conversation detail events (bytes) -> typed events or rejections.

Must never import Kafka, Faust, HTTP, RocksDB, Prometheus or the settings module.
"""
