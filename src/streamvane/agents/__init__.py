"""The worker's three stages as thin shells over the pure stage code in `streamvane.stages`:

- `ingest`: a confluent-kafka batch consumer (a task of the worker, on its own thread) that
  parses, quarantines and re-keys events into bundles with watermark markers;
- `correlate`: a Faust agent over the keyed topic that turns bundles into per-partition interval
  partials, its state in a batch-written Faust table;
- `assemble`: a Faust agent that merges every partition's partials into feed records.

An agent body only moves data between topics, stage code and tables; the rules live in
`streamvane.stages` and `streamvane.kpi`.
"""
