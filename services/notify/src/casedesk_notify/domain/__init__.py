"""Notify's pure domain: the case card, the facts it reacts to, the notices they cause.

Standard library and the vocabulary only: no protobuf, Kafka, SMTP or file reading here.
"""

from casedesk_notify.domain.case_card import CaseCard, Contacts, DeliveryChannel, ExpectedDeadlines
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
from casedesk_notify.domain.notices import Notice, NoticeKind, NotifyPolicy, apply, notices_for
from casedesk_notify.domain.reply_routes import EmailThread, SocialThread
from casedesk_notify.domain.reply_window import ReplyWindow

__all__ = [
    "CaseCard",
    "Contacts",
    "DeliveryChannel",
    "EmailThread",
    "Escalated",
    "EscalationRejected",
    "ExpectedDeadlines",
    "Fact",
    "MergedInto",
    "Notice",
    "NoticeKind",
    "NotifyPolicy",
    "PublicReply",
    "Registered",
    "RejectionGround",
    "ReplyWindow",
    "SocialThread",
    "StatusChanged",
    "apply",
    "notices_for",
]
