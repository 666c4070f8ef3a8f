"""RocksDB-backed (rocksdict), changelogged Faust tables behind small typed facades.

Key layouts are documented where they are defined. Tables store exactly the mergeable KPI
accumulators of `streamvane.kpi`, the per-partition event-time watermarks and the correlation
state; nothing is kept only in process memory.
"""
