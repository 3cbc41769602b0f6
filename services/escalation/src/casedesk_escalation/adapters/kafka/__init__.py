"""Kafka: the consumer loop over case.events.v1 and sla.events.v1, and the journal's topic."""
