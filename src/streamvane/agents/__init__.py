"""Faust agents: short `async for` loops that call the pure core and write tables.

Ingest (parse or quarantine), aggregate (events -> KPI accumulators -> interval tables) and
punctuate (watermark + grace decide which intervals are final; emit feed records). The logic
they run is in `streamvane.kpi`; an agent body only moves data between topics, core and tables.
"""
