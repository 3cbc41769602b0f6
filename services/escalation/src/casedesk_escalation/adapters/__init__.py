"""The escalation service's outside world: the decision store, Kafka, the case service, the
policy file."""
