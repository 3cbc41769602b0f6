"""Which facts deserve a message to the citizen, on which channels, saying what.

`apply` moves the case card forward; `notices_for` then decides who is told what, honouring the
citizen's stated preference: the news of a status change follows who made it and why the case
was closed, an escalation says why (and a refused request for one too), and a specialist's reply
goes back the way the question came: quoted in the citizen's e-mail thread, posted to his social
network, and quoted elsewhere only to a citizen who cannot read it on the portal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from casedesk_notify.domain.case_card import CaseCard, DeliveryChannel
from casedesk_notify.domain.facts import (
    Escalated,
    EscalationRejected,
    Fact,
    MergedInto,
    PublicReply,
    Registered,
    RejectionGround,
    StatusChanged,
)
from casedesk_notify.domain.reply_routes import EmailThread
from casedesk_vocabulary.enums import CloseReason, Status
from casedesk_vocabulary.wording import (
    EscalationNews,
    StatusNews,
    escalation_news,
    status_news,
)


class NoticeKind(StrEnum):
    """One template family per kind (templates/<version>/<kind>/)."""

    ACKNOWLEDGEMENT = "acknowledgement"
    STATUS_CHANGED = "status_changed"
    ESCALATED = "escalated"
    PUBLIC_REPLY = "public_reply"
    ESCALATION_REJECTED = "escalation_rejected"


STATUS = NoticeKind.STATUS_CHANGED
# Closures nobody is told about. The citizen who confirmed the answer did it himself a moment
# ago, and the frontend he did it in showed him the result: a message would echo his own action,
# as notify never echoes his own comment, and cost an SMS. A case closed as spam: telling the
# sender confirms that the address is read, and the contacts of a spam case may be somebody
# else's (anybody may name any number at intake).
SILENT_CLOSURES = frozenset({CloseReason.ANSWER_CONFIRMED, CloseReason.SPAM})
# Only these carry something to read on a social network: the answer or the question.
_REPLYING = frozenset({Status.ANSWER_READY, Status.WAITING_FOR_CITIZEN})


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
    # The specialist's answer, quoted: in the citizen's e-mail thread, in a private message, and
    # to a citizen without a portal account.
    answer: str = ""
    # The specialist's public question of a clarification request (it is the citizen's to read
    # wherever he reads, and he answers it by replying to the message).
    question: str = ""
    repeat_of: str = ""  # acknowledgement of a repeat: the number of the case it repeats
    # An e-mail to the citizen's own thread: a reply to his message (In-Reply-To, References).
    thread: EmailThread | None = None
    # A social notice posted where only the citizen reads (a private message): it may carry
    # the answer. A public one never carries anything personal.
    private: bool = False
    close_reason: CloseReason | None = None
    rejection: RejectionGround | None = None  # escalation_rejected: why not


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
    if isinstance(fact, MergedInto):
        return card.with_merged_into(fact.target_number)
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
    texts = [fact.text] if isinstance(fact, PublicReply) else list(replies)
    template = _template(card, fact, policy, texts, repeat_of)
    if template is None:
        return []
    notices = [
        _addressed(template, channel, card.contacts.address(channel), texts)
        for channel in card.contacts.channels()
    ]
    social = card.social_thread
    if social is not None and _joined(texts) and _replying(fact):
        private = social.private
        notices.append(
            replace(
                template,
                channel=DeliveryChannel.SOCIAL,
                recipient=social.recipient,
                private=private,
                answer=template.answer if private else "",
                question=template.question if private else "",
            )
        )
    return notices


def _template(
    card: CaseCard, fact: Fact, policy: NotifyPolicy, texts: Sequence[str], repeat_of: str
) -> Notice | None:
    """The notice of `fact` but for its channel and recipient; None: nothing to say."""
    blank = DeliveryChannel.EMAIL
    if isinstance(fact, Registered):
        return Notice(NoticeKind.ACKNOWLEDGEMENT, blank, "", card, repeat_of=repeat_of)
    if isinstance(fact, StatusChanged):
        if fact.close_reason in SILENT_CLOSURES:
            return None
        news = _news(fact)
        if fact.status is Status.WAITING_FOR_CITIZEN:
            return Notice(STATUS, blank, "", card, status_news=news, question=_joined(texts))
        return Notice(
            STATUS, blank, "", card, status_news=news, answer=_joined(texts),
            close_reason=fact.close_reason,
        )  # fmt: skip
    if isinstance(fact, Escalated):
        if not policy.on_escalation:
            return None
        why = escalation_news(fact.by, fact.reason)
        return Notice(
            NoticeKind.ESCALATED, blank, "", card,
            callback_required=fact.callback_required, escalation_news=why,
        )  # fmt: skip
    if isinstance(fact, EscalationRejected):
        return Notice(NoticeKind.ESCALATION_REJECTED, blank, "", card, rejection=fact.ground)
    if isinstance(fact, PublicReply) and policy.on_public_reply:
        return Notice(NoticeKind.PUBLIC_REPLY, blank, "", card, answer=_joined(texts))
    return None


def _addressed(
    template: Notice, channel: DeliveryChannel, recipient: str, texts: Sequence[str]
) -> Notice:
    """`template` for one contact channel: the answer quoted where the citizen has nowhere else
    to read it (no portal account) or where his question came from (his e-mail thread)."""
    card = template.card
    thread = card.email_thread if channel is DeliveryChannel.EMAIL else None
    quoted = not card.portal_account or thread is not None
    return replace(
        template,
        channel=channel,
        recipient=recipient,
        answer=template.answer if quoted else "",
        thread=thread if thread is not None and thread.holds(recipient) else None,
    )


def _news(fact: StatusChanged) -> StatusNews:
    """Who changed the status, or, for a closure whose reason is known, why."""
    return status_news(fact.previous, fact.status, fact.by, close_reason=fact.close_reason)


def _replying(fact: Fact) -> bool:
    """Whether `fact` carries a specialist's reply for a social network: the reply itself, or
    the «Ответ готов» / clarification request it was merged into."""
    if isinstance(fact, PublicReply):
        return True
    return isinstance(fact, StatusChanged) and fact.status in _REPLYING


def _joined(texts: Sequence[str]) -> str:
    return "\n\n".join(text.strip() for text in texts if text.strip())
