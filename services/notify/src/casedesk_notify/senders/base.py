"""The small interfaces the dispatcher talks to, and the two ways a send can fail.

Adapters translate their provider's answers into `TemporaryFailure` (try again later: SMTP 4xx,
gateway 5xx or 429, timeouts, refused connections) or `PermanentFailure` (retrying cannot help:
SMTP 5xx, gateway 4xx). Error texts must never contain the recipient's address or number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DeliveryFailure(Exception):
    temporary: bool = False


class TemporaryFailure(DeliveryFailure):
    temporary = True


class PermanentFailure(DeliveryFailure):
    temporary = False


@dataclass(frozen=True)
class EmailMessage:
    message_id: str  # <notification-id@domain>: lets the receiving side spot a duplicate
    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class SmsMessage:
    client_id: str  # the notification id: gateways that dedupe on a client id drop duplicates
    to: str
    text: str


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str = ""


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> SendReceipt: ...

    async def close(self) -> None: ...


class SmsSender(Protocol):
    async def send(self, message: SmsMessage) -> SendReceipt: ...

    async def close(self) -> None: ...
