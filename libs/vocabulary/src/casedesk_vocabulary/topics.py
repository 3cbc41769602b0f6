"""Kafka topic names (DESIGN.md "Kafka topics"): the only place they are written out.

Settings may point a service at other names (a mirror, a test's private prefix); the variable for
a topic is named the same in every service (`CASEDESK_<NAME>_TOPIC`, see `SETTINGS`).
"""

from __future__ import annotations

CASE_EVENTS = "case.events.v1"
SLA_EVENTS = "sla.events.v1"
NOTIFICATION_EVENTS = "notification.events.v1"
ESCALATION_DECISIONS = "escalation.decisions.v1"

ALL = (CASE_EVENTS, SLA_EVENTS, NOTIFICATION_EVENTS, ESCALATION_DECISIONS)

# The settings field (and so the environment variable CASEDESK_<FIELD>) naming each topic.
SETTINGS = {
    CASE_EVENTS: "case_events_topic",
    SLA_EVENTS: "sla_events_topic",
    NOTIFICATION_EVENTS: "notification_events_topic",
    ESCALATION_DECISIONS: "escalation_decisions_topic",
}

# Consumers that park poisoned records on a dead-letter topic of their own.
CONSUMERS_WITH_DLQ = {
    CASE_EVENTS: ("sla", "escalation", "notify"),
    SLA_EVENTS: ("escalation",),
}


def dlq_topic(topic: str, consumer: str) -> str:
    """`<topic>.dlq.<consumer>`: where `consumer` parks the records of `topic` it cannot take."""
    return f"{topic}.dlq.{consumer}"
