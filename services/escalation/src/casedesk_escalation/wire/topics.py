"""The topics the escalation service reads and writes (names: casedesk_vocabulary.topics)."""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_vocabulary.topics import CASE_EVENTS, ESCALATION_DECISIONS, SLA_EVENTS

CASE_TOPIC = CASE_EVENTS
SLA_TOPIC = SLA_EVENTS
DECISION_TOPIC = ESCALATION_DECISIONS


@dataclass(frozen=True)
class Topics:
    """Where the service reads and writes (configurable so tests and replays use their own)."""

    case: str = CASE_TOPIC
    sla: str = SLA_TOPIC
    decisions: str = DECISION_TOPIC

    @property
    def consumed(self) -> tuple[str, str]:
        return (self.case, self.sla)
