"""Cases as the case service shows them to intake, and the commands intake sends it.

Intake owns no case state: it reads cases from the case service and asks it to change them. Each
command carries a key derived from the frontend's idempotency key, so it is safe to send again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.submissions import CaseContent, Origin
from casedesk_vocabulary.enums import (
    ActorKind,
    CaseType,
    Category,
    Channel,
    EscalationReason,
    Status,
)


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str


def citizen_actor(login: str, citizen_ref: str) -> Actor:
    """The citizen by login, or by a pseudonym when the channel did not identify an account."""
    return Actor(ActorKind.CITIZEN, login or f"citizen-ref:{citizen_ref[:16]}")


@dataclass(frozen=True)
class StoredAttachment:
    """A file kept in intake's vault; only this metadata goes to the case service."""

    attachment_id: str
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class CaseComment:
    body: str
    public: bool
    author_kind: ActorKind | None
    at: datetime | None
    attachments: tuple[StoredAttachment, ...] = ()  # the files that came with it


@dataclass(frozen=True)
class Case:
    """What intake reads of a case: enough to check ownership and to show it to its citizen."""

    case_id: str
    number: str
    status: Status | None
    channel: Channel | None
    citizen: Citizen
    subject: str
    comments: tuple[CaseComment, ...] = ()
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    # The case's own files, as the case records them (at creation, or added later); the files
    # that came with a comment are the comment's (CaseComment.attachments).
    attachments: tuple[StoredAttachment, ...] = ()
    # The deadline policy has targets per category (2026.1: sign-in problems within 24 hours).
    category: Category | None = None
    version: int = 0
    rating: int = 0  # the citizen's score of the answer, 1 to 5; 0 until he rates it
    # A deadline passed before any answer (the SLA service's word): the seed lets him repeat.
    overdue: bool = False
    # Closed as spam or as a duplicate merged into another case: closed, yet never answered.
    closed_unanswered: bool = False

    def attachment(self, attachment_id: str) -> StoredAttachment | None:
        """One of the case's files: its own, or one that came with a comment."""
        files = (*self.attachments, *(a for c in self.comments for a in c.attachments))
        return next((a for a in files if a.attachment_id == attachment_id), None)


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    number: str
    status: Status | None
    channel: Channel | None
    subject: str
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    overdue: bool = False  # its SLA clock is breached


@dataclass(frozen=True)
class CasePage:
    cases: tuple[CaseSummary, ...]
    next_page_token: str = ""


@dataclass(frozen=True)
class Command:
    """Who asks, under which key; the key also correlates everything the call causes downstream.

    `identified_by`: the operator (identity-provider username) who identified the citizen by
    phone or in person and acts for him; empty when the citizen acts himself."""

    key: str
    actor: Actor
    identified_by: str = ""


@dataclass(frozen=True)
class NewCase:
    command: Command
    channel: Channel | None
    case_type: CaseType
    category: Category
    queue: str
    citizen: Citizen
    content: CaseContent
    provenance: Origin | None
    attachments: tuple[StoredAttachment, ...]
    linked_to: str = ""


@dataclass(frozen=True)
class NewComment:
    command: Command
    case_id: str
    body: str
    public: bool
    attachments: tuple[StoredAttachment, ...]


@dataclass(frozen=True)
class Repetition:
    """`channel` None: the original's, with its provenance."""

    command: Command
    case_id: str  # the original
    reason: str
    channel: Channel | None = None
    provenance: Origin | None = None
    attachments: tuple[StoredAttachment, ...] = ()


@dataclass(frozen=True)
class AnswerConfirmation:
    command: Command
    case_id: str


@dataclass(frozen=True)
class AnswerRating:
    command: Command
    case_id: str
    score: int
    comment: str
    channel: Channel  # where the rating came from


@dataclass(frozen=True)
class CaseEventSeen:
    """One of the case's events as a watcher learns of it: its version, and whether it changes
    what the citizen sees of the case (domain/watching.py)."""

    version: int
    citizen_sees: bool


@dataclass(frozen=True)
class EscalationPlea:
    command: Command
    case_id: str
    reason: EscalationReason
    explanation: str
