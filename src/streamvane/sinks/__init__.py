"""Delivery of feed records to the outside world: the aiohttp dispatcher, its retry policy,
dead letters and the delivery ledger. Consumes the compacted feed-record topic; never reads
the KPI tables directly.
"""
