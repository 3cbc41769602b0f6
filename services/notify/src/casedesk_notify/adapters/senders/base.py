"""The small interfaces of the senders, and the two ways a send can fail.

Senders translate their provider's answers into `TemporaryFailure` (try again later: SMTP 4xx,
gateway 5xx or 429, timeouts, refused connections), `OutcomeUnknown` (a temporary failure after
the whole message was handed over: possibly accepted) or `PermanentFailure` (retrying cannot help:
SMTP 5xx, gateway 4xx), the failure kinds the application's dispatcher acts on. Error texts must
never contain the recipient's address or number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from casedesk_notify.application.ports import (
    DeliveryFailure,
    OutcomeUnknown,
    PermanentFailure,
    SendReceipt,
    TemporaryFailure,
)

__all__ = [
    "DeliveryFailure",
    "EmailMessage",
    "EmailSender",
    "OutcomeUnknown",
    "PermanentFailure",
    "SendReceipt",
    "SmsMessage",
    "SmsSender",
    "TemporaryFailure",
]


@dataclass(frozen=True)
class EmailMessage:
    message_id: str  # <notification-id@domain>: lets the receiving side spot a duplicate
    to: str
    subject: str
    text: str
    html: str
    # A reply in the citizen's thread: the Message-ID it answers and the thread's ids, each
    # `<...>` (RFC 5322 §3.6.4); empty for a notice that starts no thread of his.
    in_reply_to: str = ""
    references: str = ""


@dataclass(frozen=True)
class SmsMessage:
    client_id: str  # the notification id: gateways that dedupe on a client id drop duplicates
    to: str
    text: str


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> SendReceipt: ...

    async def close(self) -> None: ...


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> SendReceipt: ...

    async def close(self) -> None: ...
