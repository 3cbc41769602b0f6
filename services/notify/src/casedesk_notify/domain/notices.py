"""Which facts deserve a message to the citizen, on which channels, saying what.

`apply` moves the case card forward; `notices_for` then decides who is told what, honouring the
citizen's stated preference: the news of a status change follows who made it, an escalation says
why, and a specialist's reply is quoted only to a citizen who cannot read it on the portal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

from casedesk_notify.domain.case_card import CaseCard, DeliveryChannel
from casedesk_notify.domain.facts import Escalated, Fact, Registered, StatusChanged
from casedesk_vocabulary.enums import Status
from casedesk_vocabulary.wording import EscalationNews, StatusNews, escalation_news, status_news


class NoticeKind(StrEnum):
    """One template family per kind (templates/<version>/<kind>/)."""

    ACKNOWLEDGEMENT = "acknowledgement"
    STATUS_CHANGED = "status_changed"
    ESCALATED = "escalated"
    PUBLIC_REPLY = "public_reply"


STATUS = NoticeKind.STATUS_CHANGED


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
    status_news: StatusNews | None = None  # status_changed: what happened, by whom
    escalation_news: EscalationNews | None = None  # escalated: why
    # The specialist's answer, quoted: only to a citizen without a portal account.
    answer: str = ""
    # The specialist's public question of a clarification request (it is the citizen's to read
    # wherever he reads, and he answers it by replying to the message).
    question: str = ""
    repeat_of: str = ""  # acknowledgement of a repeat: the number of the case it repeats


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


def notices_for(
    card: CaseCard,
    fact: Fact,
    policy: NotifyPolicy,
    *,
    replies: Sequence[str] = (),
    repeat_of: str = "",
) -> list[Notice]:
    """Messages one fact causes; `card` is the projection *after* the fact.

    `replies`: the texts of the specialist's public replies this status change carries (merged
    into it, see `reply_window`); `repeat_of`: the number of the case a new case repeats.
    """
    say = _saying(card, fact, policy, replies, repeat_of)
    if say is None:
        return []
    return [
        say(channel=channel, recipient=card.contacts.address(channel))
        for channel in card.contacts.channels()
    ]


def _saying(
    card: CaseCard, fact: Fact, policy: NotifyPolicy, replies: Sequence[str], repeat_of: str
) -> Callable[..., Notice] | None:
    """The notice of `fact` but for its channel and recipient; None: nothing to say."""
    if isinstance(fact, Registered):
        return partial(Notice, kind=NoticeKind.ACKNOWLEDGEMENT, card=card, repeat_of=repeat_of)
    if isinstance(fact, StatusChanged):
        news = status_news(fact.previous, fact.status, fact.by)
        if fact.status is Status.WAITING_FOR_CITIZEN:
            question = _joined(replies)
            return partial(Notice, kind=STATUS, card=card, status_news=news, question=question)
        answer = _quoted(card, replies)
        return partial(Notice, kind=STATUS, card=card, status_news=news, answer=answer)
    if isinstance(fact, Escalated):
        if not policy.on_escalation:
            return None
        return partial(
            Notice,
            kind=NoticeKind.ESCALATED,
            card=card,
            callback_required=fact.callback_required,
            escalation_news=escalation_news(fact.by, fact.reason),
        )
    if not policy.on_public_reply:
        return None
    return partial(
        Notice, kind=NoticeKind.PUBLIC_REPLY, card=card, answer=_quoted(card, [fact.text])
    )


def _quoted(card: CaseCard, replies: Sequence[str]) -> str:
    """A citizen with a portal account reads the answer there, behind his login; one without
    one has nowhere else to read it."""
    return "" if card.portal_account else _joined(replies)


def _joined(texts: Sequence[str]) -> str:
    return "\n\n".join(text.strip() for text in texts if text.strip())
