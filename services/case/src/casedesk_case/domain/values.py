"""The case's vocabulary: enumerations and immutable value objects.

Names mirror the protobuf contract (casedesk.common.v1) member by member, so the transport maps
them by name and no numeric constant is duplicated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Status(Enum):
    REGISTERED = "REGISTERED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_FOR_CITIZEN = "WAITING_FOR_CITIZEN"
    ANSWER_READY = "ANSWER_READY"
    CLOSED = "CLOSED"


class Channel(Enum):
    PORTAL_CHAT = "PORTAL_CHAT"
    PERSONAL_ACCOUNT = "PERSONAL_ACCOUNT"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SOCIAL = "SOCIAL"
    MFC = "MFC"


class CaseType(Enum):
    TECHNICAL = "TECHNICAL"
    CONSULTATION = "CONSULTATION"
    COMPLAINT = "COMPLAINT"


class Category(Enum):
    REGISTRATION_SIGN_IN = "REGISTRATION_SIGN_IN"
    SERVICE_DELIVERY = "SERVICE_DELIVERY"
    TECHNICAL_FAULT = "TECHNICAL_FAULT"
    OTHER = "OTHER"


class Tier(Enum):
    """Escalation tiers, ordered: L1 first line, L2 senior specialist, L3 quality control."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    @property
    def rank(self) -> int:
        return int(self.value[1:])


class Priority(Enum):
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class ContactChannel(Enum):
    UNSPECIFIED = "UNSPECIFIED"
    SMS = "SMS"
    EMAIL = "EMAIL"
    SMS_AND_EMAIL = "SMS_AND_EMAIL"


class ActorKind(Enum):
    CITIZEN = "CITIZEN"
    SPECIALIST = "SPECIALIST"
    SYSTEM = "SYSTEM"


class EscalationReason(Enum):
    UNSPECIFIED = "UNSPECIFIED"
    NO_ANSWER_IN_TIME = "NO_ANSWER_IN_TIME"
    UNSATISFYING_ANSWER = "UNSATISFYING_ANSWER"
    CRITICAL_ERROR = "CRITICAL_ERROR"
    FIRST_RESPONSE_BREACH = "FIRST_RESPONSE_BREACH"
    RESOLUTION_BREACH = "RESOLUTION_BREACH"


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
    """

    actor: Actor
    correlation_id: str = ""
    causation_id: str = ""
    trace_parent: str = ""


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
    `details` holds that variant's fields, e.g. {"network": "telegram", "post_reference": ...}.
    """

    kind: str = ""
    details: dict[str, str | bool] = field(default_factory=dict)


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
