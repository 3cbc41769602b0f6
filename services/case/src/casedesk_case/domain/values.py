"""The case's vocabulary: enumerations and immutable value objects.

The enumerations are the whole system's (casedesk_vocabulary), re-exported here so the case
domain reads them from one place; the value objects are the case service's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from casedesk_vocabulary.enums import (
    ActorKind,
    CallbackPurpose,
    CaseType,
    Category,
    Channel,
    CloseReason,
    ContactChannel,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

__all__ = [
    "Actor",
    "ActorKind",
    "AnswerRating",
    "Attachment",
    "CallbackOwed",
    "CallbackPurpose",
    "CaseContent",
    "CaseType",
    "Category",
    "Channel",
    "Citizen",
    "CloseReason",
    "Comment",
    "ContactChannel",
    "EscalationReason",
    "EventContext",
    "Origin",
    "Priority",
    "Status",
    "Tier",
]


@dataclass(frozen=True)
class Actor:
    """Who caused an event: a citizen (account login), a specialist (id) or a system component."""

    kind: ActorKind
    id: str


@dataclass(frozen=True)
class EventContext:
    """What every recorded event remembers about the command that caused it.

    `trace_parent` is the W3C traceparent of that command, kept so that the outbox relay can
    continue the same trace when it publishes the event later, possibly after a restart.
    `identified_by`: the operator (identity-provider username) acting for the citizen who is
    the actor, having identified him by phone or in person; empty when the actor acts himself.
    Stored events from before it existed lack it, hence the default (no upcaster needed).
    """

    actor: Actor
    correlation_id: str = ""
    causation_id: str = ""
    trace_parent: str = ""
    identified_by: str = ""


@dataclass(frozen=True)
class Citizen:
    full_name: str = ""
    snils: str = ""
    inn: str = ""
    account_login: str = ""
    mobile_phone: str = ""
    email: str = ""
    preferred_contact: ContactChannel = ContactChannel.UNSPECIFIED


@dataclass(frozen=True)
class CaseContent:
    subject: str = ""
    description: str = ""
    problem_occurred_at: datetime | None = None
    service_name: str = ""
    service_code: str = ""
    steps_taken: str = ""


@dataclass(frozen=True)
class Origin:
    """Channel-specific provenance: which channel form it came from and its references.

    `kind` names the provenance variant (chat, personal_account, email, phone, social, mfc);
    `details` holds that variant's fields, e.g. {"network": "telegram", "post_reference": ...};
    a repeated field as a list (a phone call's caller checks, by their enum numbers).
    """

    kind: str = ""
    details: dict[str, str | bool | list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Attachment:
    attachment_id: str
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Comment:
    comment_id: str
    body: str
    public: bool
    author: Actor
    at: datetime
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class AnswerRating:
    """The citizen's rating of the answer: 1 to 5, a comment (his free text: personal data), when
    and through which channel (None: the caller did not say)."""

    score: int
    comment: str
    at: datetime
    channel: Channel | None = None


@dataclass(frozen=True)
class CallbackOwed:
    """A PHONE case owes the citizen a call: what for, and by when (domain/callbacks.py)."""

    purpose: CallbackPurpose
    due: datetime
