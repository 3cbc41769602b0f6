"""The transactional outbox: the relay publishing stored case events to Kafka, and the
partitioner keeping each case's events in one partition."""
