"""A delivery: one rendered message to one recipient on one channel, and where it came from.

Also the outcome of an attempt (`Verdict`) and the serialized journal entries that report it:
what the dispatcher hands to the store, to be committed together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from casedesk_notify.domain import CaseCard, DeliveryChannel
from casedesk_runtime.masking import mask_email, mask_phone


class DeliveryState(StrEnum):
    """Where a delivery stands. The first four are open (resumed after a restart), the rest
    final:

    - `pending`: to be sent, or a temporary failure with a retry due;
    - `held`: waiting for room in the recipient's window (the per-recipient limit);
    - `unknown`: the last attempt's outcome is unknown (the provider may have accepted it); it
      is resent under the same id;
    - `deferred`: a reply's notice in its reply window (domain.reply_window), until a status
      notice takes it (`merged`) or the window ends (`pending`);
    - `sent`; `dead`: given up on and dead-lettered;
    - `superseded`: a held status notice replaced by a later one of the same case;
    - `suppressed`: beyond the per-recipient cap of held notices, not sent (reason recorded);
    - `merged`: a reply's notice carried by the status notice that followed it in its window.
    """

    PENDING = "pending"
    HELD = "held"
    UNKNOWN = "unknown"
    DEFERRED = "deferred"
    SENT = "sent"
    DEAD = "dead"
    SUPERSEDED = "superseded"
    SUPPRESSED = "suppressed"
    MERGED = "merged"

    @property
    def is_open(self) -> bool:
        return self in _OPEN


_OPEN = frozenset(
    {DeliveryState.PENDING, DeliveryState.HELD, DeliveryState.UNKNOWN, DeliveryState.DEFERRED}
)


Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class RenderedMessage:
    template: str  # kind@version, as the journal records it
    subject: str = ""  # e-mail only
    text: str = ""
    html: str = ""  # e-mail only
    sms_segments: int = 0  # SMS only
    # An e-mail in the citizen's own thread: his Message-ID (In-Reply-To) and the thread's ids
    # (References), each in angle brackets; empty otherwise.
    in_reply_to: str = ""
    references: str = ""

    @property
    def kind(self) -> str:
        """The notice kind (`status_changed`, ...) of `template` (kind@version)."""
        return self.template.partition("@")[0]


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
    channel: DeliveryChannel
    recipient: str
    message: RenderedMessage
    source: SourceRecord
    attempts: int = 0
    unknown_outcomes: int = 0  # attempts whose outcome was unknown: each a possible extra copy
    deferred_until: datetime | None = None  # a reply's notice in its window (state `deferred`)
    # The citizen's data key its personal fields are sealed with in the store (`<subject>/
    # <generation>`, application.sealing); "" when they are kept in clear (plain events).
    sealed_by: str = ""

    @property
    def recipient_masked(self) -> str:
        return mask_recipient(self.channel, self.recipient)


def mask_recipient(channel: DeliveryChannel, recipient: str) -> str:
    if channel is DeliveryChannel.SOCIAL:
        return mask_social(recipient)
    return mask_email(recipient) if channel is DeliveryChannel.EMAIL else mask_phone(recipient)


_CONVERSATION = re.compile(r"^(?P<network>[^:]*):(?P<where>@?[\w-]+?)(?P<rest>[_:]\d+)?$")


def mask_social(recipient: str) -> str:
    """`telegram:*******89:42`: the network and the post stay readable, the chat or user id (a
    person's, in a private conversation) keeps its last two characters."""
    found = _CONVERSATION.match(recipient)
    if found is None:
        return "***"
    where = found["where"]
    hidden = "*" * max(len(where) - 2, 1) + where[-2:] if len(where) > 2 else "***"
    return f"{found['network']}:{hidden}{found['rest'] or ''}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of an attempt (or a decision before one), to be committed with the journal
    entries that report it.

    An open `state` (PENDING, HELD, UNKNOWN) has the next attempt due at `at`; a final one
    finished at `at`. `error` is the failure or the reason for the decision.
    """

    delivery: Delivery
    state: DeliveryState
    attempts: int
    at: datetime
    entries: tuple[JournalEntry, ...]
    error: str = ""
    provider_message_id: str = ""
    unknown_outcomes: int = 0


@dataclass(frozen=True)
class JournalEntry:
    """A serialized notification.events.v1 record waiting in the outbox."""

    key: bytes
    value: bytes
    headers: Headers = ()


@dataclass
class ConsumedBatch:
    """Everything one poll of case.events.v1 changes, to be committed at once."""

    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read
    cards: dict[str, CaseCard] = field(default_factory=dict)
    deliveries: list[tuple[Delivery, JournalEntry]] = field(default_factory=list)
    # Deferred reply notices (this batch's or stored) a status notice of the batch carries; each
    # with its `Merged` journal entry.
    merged: list[tuple[Delivery, JournalEntry]] = field(default_factory=list)
    # Notices not to be sent, decided while planning (their citizen was erased): stored final,
    # in state `suppressed` with `reason`, each with its `Suppressed` journal entry; no text kept.
    suppressed: list[tuple[Delivery, JournalEntry, str]] = field(default_factory=list)
