"""The SLA domain: clocks per case, their alarms and the facts they record. No I/O in here."""

from casedesk_sla.domain import trace_context
from casedesk_sla.domain.book import Changes, SlaBook
from casedesk_sla.domain.facts import (
    CaseFact,
    CaseOpened,
    PublicReply,
    SlaFact,
    SlaKind,
    StatusChanged,
    TierChanged,
)
from casedesk_sla.domain.instants import Micros, from_micros, to_micros
from casedesk_sla.domain.policies import PolicyRegistry
from casedesk_vocabulary.enums import DeadlineTarget

__all__ = [
    "CaseFact",
    "CaseOpened",
    "Changes",
    "DeadlineTarget",
    "Micros",
    "PolicyRegistry",
    "PublicReply",
    "SlaBook",
    "SlaFact",
    "SlaKind",
    "StatusChanged",
    "TierChanged",
    "from_micros",
    "to_micros",
    "trace_context",
]
