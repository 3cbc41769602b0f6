"""Which facts deserve a message to the citizen, on which channels.

`apply` moves the case card forward; `notices_for` then decides who is told what, honouring the
citizen's stated preference.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from casedesk_notify.domain.case_card import CaseCard, DeliveryChannel
from casedesk_notify.domain.facts import Escalated, Fact, Registered, StatusChanged


class NoticeKind(StrEnum):
    """One template family per kind (templates/<version>/<kind>/)."""

    ACKNOWLEDGEMENT = "acknowledgement"
    STATUS_CHANGED = "status_changed"
    ESCALATED = "escalated"
    PUBLIC_REPLY = "public_reply"


@dataclass(frozen=True)
class NotifyPolicy:
    on_escalation: bool = True
    on_public_reply: bool = True


@dataclass(frozen=True)
class Notice:
    """One message to send: which template family, on which channel, to whom, about what."""

    kind: NoticeKind
    channel: DeliveryChannel
    recipient: str
    card: CaseCard
    callback_required: bool = False


def apply(card: CaseCard | None, fact: Fact) -> CaseCard | None:
    """The card after the fact; None while the case's creation has not been seen."""
    if isinstance(fact, Registered):
        return fact.card
    if card is None:
        return None
    if isinstance(fact, StatusChanged):
        return card.with_status(fact.status)
    if isinstance(fact, Escalated):
        return card.with_tier(fact.tier)
    return card


def notices_for(card: CaseCard, fact: Fact, policy: NotifyPolicy) -> list[Notice]:
    """Messages one fact causes; `card` is the projection *after* the fact."""
    callback = False
    if isinstance(fact, Registered):
        kind = NoticeKind.ACKNOWLEDGEMENT
    elif isinstance(fact, StatusChanged):
        kind = NoticeKind.STATUS_CHANGED
    elif isinstance(fact, Escalated):
        if not policy.on_escalation:
            return []
        kind, callback = NoticeKind.ESCALATED, fact.callback_required
    else:
        if not policy.on_public_reply:
            return []
        kind = NoticeKind.PUBLIC_REPLY
    return [
        Notice(kind, channel, card.contacts.address(channel), card, callback)
        for channel in card.contacts.channels()
    ]
