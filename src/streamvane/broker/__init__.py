"""Kafka through confluent-kafka, outside Faust: the acknowledged producer, reading a topic to its
end, group lag, and the topics' specs and creation. The worker's ingest and tables, the
dispatcher, reconciliation and the commands all use it; Faust wiring stays in ``topology``."""
