"""The facts of case.events.v1 notify reacts to (decoded by `casedesk_notify.wire`).

Who acted (`by`) travels with a status change and an escalation: the same «В работе» is a
specialist taking the case or the citizen's own answer to a clarification, and the citizen is
told which (`casedesk_vocabulary.wording.status_news`). None: the event did not say.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_notify.domain.case_card import CaseCard
from casedesk_vocabulary.enums import ActorKind, EscalationReason, Status, Tier


@dataclass(frozen=True)
class Registered:
    card: CaseCard
    repeat_of: str = ""  # the case id of the case this one repeats


@dataclass(frozen=True)
class StatusChanged:
    status: Status
    previous: Status | None = None
    by: ActorKind | None = None


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


Fact = Registered | StatusChanged | Escalated | PublicReply
