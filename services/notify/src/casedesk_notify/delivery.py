"""A delivery: one rendered message to one recipient on one channel, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from casedesk_notify.domain import Channel
from casedesk_notify.rendering import RenderedMessage
from casedesk_runtime.masking import mask_email, mask_phone


class DeliveryState(StrEnum):
    """pending -> sent | dead; a pending delivery is (re)tried until one of the two."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class SourceRecord:
    """The consumed case event, kept until the delivery is final so it can be dead-lettered."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True)
class Delivery:
    notification_id: str
    source_event_id: str
    case_id: str
    case_version: int
    correlation_id: str
    channel: Channel
    recipient: str
    message: RenderedMessage
    source: SourceRecord
    attempts: int = 0

    @property
    def recipient_masked(self) -> str:
        return mask_recipient(self.channel, self.recipient)


def mask_recipient(channel: Channel, recipient: str) -> str:
    return mask_email(recipient) if channel is Channel.EMAIL else mask_phone(recipient)


@dataclass(frozen=True)
class Verdict:
    """The outcome of an attempt, to be committed with the journal entries that report it.

    `state` PENDING means a temporary failure with a retry due at `at`; SENT and DEAD are final
    and `at` is when the delivery finished.
    """

    delivery: Delivery
    state: DeliveryState
    attempts: int
    at: datetime
    entries: tuple[JournalEntry, ...]
    error: str = ""
    provider_message_id: str = ""


@dataclass(frozen=True)
class JournalEntry:
    """A serialized notification.events.v1 record waiting in the outbox."""

    key: bytes
    value: bytes
    headers: Headers = ()
