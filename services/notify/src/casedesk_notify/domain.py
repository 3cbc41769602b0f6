"""What notify knows about a case and which facts deserve a message to the citizen.

Pure domain: no protobuf, Kafka or SMTP here. Later case events do not repeat the citizen's
contacts, so notify keeps its own `CaseCard` per case, built from `Created` and kept current by
the events that follow; `notices_for` then decides who is told what, honouring the citizen's
stated preference.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class CaseStatus(StrEnum):
    REGISTERED = "REGISTERED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_FOR_CITIZEN = "WAITING_FOR_CITIZEN"
    ANSWER_READY = "ANSWER_READY"
    CLOSED = "CLOSED"

    @property
    def label(self) -> str:
        """The wording citizens see on the portal, so messages and the portal agree."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    CaseStatus.REGISTERED: "Зарегистрирована",
    CaseStatus.IN_PROGRESS: "В работе",
    CaseStatus.WAITING_FOR_CITIZEN: "Требуется уточнение",
    CaseStatus.ANSWER_READY: "Ответ готов",
    CaseStatus.CLOSED: "Закрыта",
}


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ContactPreference(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    BOTH = "both"  # also what an unstated preference means


class NoticeKind(StrEnum):
    """One template family per kind (templates/<version>/<kind>/)."""

    ACKNOWLEDGEMENT = "acknowledgement"
    STATUS_CHANGED = "status_changed"
    ESCALATED = "escalated"
    PUBLIC_REPLY = "public_reply"


@dataclass(frozen=True)
class Contacts:
    phone: str = ""
    email: str = ""
    preference: ContactPreference = ContactPreference.BOTH

    def channels(self) -> list[Channel]:
        """Where to write: the preferred channels that have an address.

        When the preferred channel has no address (the citizen chose SMS but gave only an e-mail),
        the other known contact is used: a status change nobody hears about is worse than one on
        the second-best channel.
        """
        known = [c for c in (Channel.EMAIL, Channel.SMS) if self.address(c)]
        wanted = {
            ContactPreference.SMS: [Channel.SMS],
            ContactPreference.EMAIL: [Channel.EMAIL],
            ContactPreference.BOTH: [Channel.EMAIL, Channel.SMS],
        }[self.preference]
        chosen = [c for c in wanted if c in known]
        return chosen or known

    def address(self, channel: Channel) -> str:
        return self.email if channel is Channel.EMAIL else self.phone


@dataclass(frozen=True)
class ExpectedDeadlines:
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None


@dataclass(frozen=True)
class CaseCard:
    """Notify's projection of one case: enough to address and word every later message."""

    case_id: str
    number: str
    status: CaseStatus
    contacts: Contacts
    deadlines: ExpectedDeadlines = field(default_factory=ExpectedDeadlines)
    tier: str = "L1"

    def with_status(self, status: CaseStatus) -> CaseCard:
        return replace(self, status=status)

    def with_tier(self, tier: str) -> CaseCard:
        return replace(self, tier=tier)


# Facts notify reacts to, decoded from case.events.v1 by `decoding`.


@dataclass(frozen=True)
class Registered:
    card: CaseCard


@dataclass(frozen=True)
class StatusChanged:
    status: CaseStatus


@dataclass(frozen=True)
class Escalated:
    tier: str
    callback_required: bool


@dataclass(frozen=True)
class PublicReply:
    """A specialist's comment the citizen may read (internal notes never get here)."""


Fact = Registered | StatusChanged | Escalated | PublicReply


@dataclass(frozen=True)
class NotifyPolicy:
    on_escalation: bool = True
    on_public_reply: bool = True


@dataclass(frozen=True)
class Notice:
    """One message to send: which template family, on which channel, to whom, about what."""

    kind: NoticeKind
    channel: Channel
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
