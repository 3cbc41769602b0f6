"""The facts of case.events.v1 notify reacts to (decoded by `casedesk_notify.wire`)."""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_notify.domain.case_card import CaseCard
from casedesk_vocabulary.enums import Status, Tier


@dataclass(frozen=True)
class Registered:
    card: CaseCard


@dataclass(frozen=True)
class StatusChanged:
    status: Status


@dataclass(frozen=True)
class Escalated:
    tier: Tier
    callback_required: bool


@dataclass(frozen=True)
class PublicReply:
    """A specialist's comment the citizen may read (internal notes never get here)."""


Fact = Registered | StatusChanged | Escalated | PublicReply
