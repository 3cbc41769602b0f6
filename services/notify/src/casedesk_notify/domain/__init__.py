"""Notify's pure domain: the case card, the facts it reacts to, the notices they cause.

Standard library and the vocabulary only: no protobuf, Kafka, SMTP or file reading here.
"""

from casedesk_notify.domain.case_card import CaseCard, Contacts, DeliveryChannel, ExpectedDeadlines
from casedesk_notify.domain.facts import Escalated, Fact, PublicReply, Registered, StatusChanged
from casedesk_notify.domain.notices import Notice, NoticeKind, NotifyPolicy, apply, notices_for
from casedesk_notify.domain.reply_window import ReplyWindow

__all__ = [
    "CaseCard",
    "Contacts",
    "DeliveryChannel",
    "Escalated",
    "ExpectedDeadlines",
    "Fact",
    "Notice",
    "NoticeKind",
    "NotifyPolicy",
    "PublicReply",
    "Registered",
    "ReplyWindow",
    "StatusChanged",
    "apply",
    "notices_for",
]
