"""What one consumed event says about a case: facts to fold in, and perhaps a trigger."""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_escalation.domain.case_state import Fact
from casedesk_escalation.domain.triggers import Trigger


@dataclass(frozen=True)
class Observation:
    case_id: str
    facts: tuple[Fact, ...]
    trigger: Trigger | None = None
