"""The topics the escalation service reads and writes (DESIGN.md "Kafka topics")."""

from __future__ import annotations

from dataclasses import dataclass

CASE_TOPIC = "case.events.v1"
SLA_TOPIC = "sla.events.v1"
DECISION_TOPIC = "escalation.decisions.v1"


@dataclass(frozen=True)
class Topics:
    """Where the service reads and writes (configurable so tests and replays use their own)."""

    case: str = CASE_TOPIC
    sla: str = SLA_TOPIC
    decisions: str = DECISION_TOPIC

    @property
    def consumed(self) -> tuple[str, str]:
        return (self.case, self.sla)
