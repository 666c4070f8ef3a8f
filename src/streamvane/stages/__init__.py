"""PURE: the per-batch work of each topology stage over a key-value store protocol.

``correlate`` is one source partition's batch (correlate, accumulate, close, restate);
``assemble`` merges every partition's partials into profile feed records. The Faust shell
(``streamvane.agents``) hands them changelogged tables; tests hand them dicts. Must never import
Kafka, Faust, HTTP, RocksDB or the settings module.
"""
