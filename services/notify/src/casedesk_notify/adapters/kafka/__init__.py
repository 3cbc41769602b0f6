"""Kafka: the case.events.v1 consumer and the journal relay to notification.events.v1."""
