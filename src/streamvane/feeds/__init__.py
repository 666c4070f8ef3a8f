"""PURE: feed contracts (profiles) and, later, payload rendering. Must never import Kafka, Faust,
HTTP, RocksDB or the settings module.
"""
