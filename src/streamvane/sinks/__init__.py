"""Delivery of feed records to WFM endpoints: the aiohttp dispatcher with its per-profile lanes
and progress, retries, dead letters and the delivery ledger. Consumes the compacted feed-record
topic; never reads the KPI tables directly.
"""
