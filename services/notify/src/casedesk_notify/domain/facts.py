"""The facts of case.events.v1 notify reacts to (decoded by `casedesk_notify.wire`).

Who acted (`by`) travels with a status change and an escalation: the same «В работе» is a
specialist taking the case or the citizen's own answer to a clarification, and the citizen is
told which (`casedesk_vocabulary.wording.status_news`). None: the event did not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from casedesk_notify.domain.case_card import CaseCard
from casedesk_vocabulary.enums import ActorKind, CloseReason, EscalationReason, Status, Tier


class RejectionGround(Enum):
    """Why the escalation service turned a citizen's escalation request down, as far as the
    citizen is told (the wire reads it from the decision's explanation)."""

    CASE_CLOSED = "CASE_CLOSED"  # a closed case is repeated, not escalated
    NOT_OVERDUE = "NOT_OVERDUE"  # «no answer in time» before any deadline passed
    WRONG_STATUS = "WRONG_STATUS"  # «unsatisfying answer» before the answer was ready
    HIGHEST_TIER = "HIGHEST_TIER"  # the quality-control department has it already
    ALREADY_THERE = "ALREADY_THERE"  # the case is at the tier asked for already
    RECENTLY_ESCALATED = "RECENTLY_ESCALATED"  # the policy's cooldown
    OTHER = "OTHER"


@dataclass(frozen=True)
class Registered:
    card: CaseCard
    repeat_of: str = ""  # the case id of the case this one repeats


@dataclass(frozen=True)
class StatusChanged:
    status: Status
    previous: Status | None = None
    by: ActorKind | None = None
    close_reason: CloseReason | None = None  # None: not closed, or closed before reasons existed


@dataclass(frozen=True)
class Escalated:
    tier: Tier
    callback_required: bool
    by: ActorKind | None = None
    reason: EscalationReason = EscalationReason.UNSPECIFIED


@dataclass(frozen=True)
class PublicReply:
    """A specialist's comment the citizen may read (internal notes never get here)."""

    text: str = ""


@dataclass(frozen=True)
class MergedInto:
    """The case was merged, as a duplicate, into the case numbered `target_number` (its closing
    `StatusChanged` follows)."""

    target_number: str


@dataclass(frozen=True)
class EscalationRejected:
    """The citizen asked for his case to go up a tier and the escalation service said no."""

    reason: EscalationReason
    ground: RejectionGround


Fact = Registered | StatusChanged | Escalated | PublicReply | MergedInto | EscalationRejected
