"""PURE: feed records — the final, versioned, Avro-governed statement of one profile's interval.

Built from interval accumulators (``streamvane.kpi``); consumed by the dispatcher. Must never
import Kafka, Faust, HTTP, RocksDB or the settings module.
"""
