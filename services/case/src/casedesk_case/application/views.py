"""What queries return: plain, immutable views, never aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from casedesk_case.application.timeline import DayCounts, NotificationFact, SlaClock, SlaFact
from casedesk_case.domain.access_journal import AccessRecord
from casedesk_case.domain.case import Case
from casedesk_case.domain.values import (
    AnswerRating,
    Attachment,
    CallbackOwed,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    CloseReason,
    Comment,
    Origin,
    Priority,
    Status,
    Tier,
)


@dataclass(frozen=True)
class CaseView:
    case_id: str
    number: str
    version: int
    status: Status
    channel: Channel
    case_type: CaseType
    category: Category
    queue: str
    tier: Tier
    priority: Priority
    assignee: str
    citizen: Citizen
    content: CaseContent
    origin: Origin
    attachments: tuple[Attachment, ...]
    comments: tuple[Comment, ...]
    repeat_of: str
    repeated_by: tuple[str, ...]
    linked_to: str
    registered_at: datetime
    updated_at: datetime
    rating: AnswerRating | None = None
    close_reason: CloseReason | None = None
    merged_into: str = ""
    merged_duplicates: tuple[str, ...] = ()
    callback: CallbackOwed | None = None  # a PHONE case's callback owed (domain/callbacks.py)
    # The SLA service said a deadline passed and the case is not answered yet (only a read asks
    # the SLA facts: a command's view leaves it False).
    overdue: bool = False

    @classmethod
    def of(cls, case: Case, comments: tuple[Comment, ...] = ()) -> CaseView:
        return cls(
            case_id=str(case.id),
            number=case.number,
            version=case.version,
            status=case.status,
            channel=case.channel,
            case_type=case.case_type,
            category=case.category,
            queue=case.queue,
            tier=case.tier,
            priority=case.priority,
            assignee=case.assignee,
            citizen=case.citizen,
            content=case.content,
            origin=case.origin,
            attachments=tuple(case.attachments),
            comments=comments,
            repeat_of=case.repeat_of,
            repeated_by=tuple(case.repeated_by),
            linked_to=case.linked_to,
            registered_at=case.created_on,
            updated_at=case.modified_on,
            rating=case.rating,
            close_reason=case.close_reason,
            merged_into=case.merged_into,
            merged_duplicates=tuple(case.merged_duplicates),
            callback=case.callback,
        )


@dataclass(frozen=True)
class CaseSummary:
    """One row of the case index (the read model behind ListCases), with the case's SLA clock
    as the case timeline last heard of it (None: never spoken of; not a column of the row)."""

    case_id: str
    number: str
    version: int
    status: Status
    channel: Channel
    queue: str
    assignee: str
    tier: Tier
    subject: str
    citizen_login: str
    registered_at: datetime
    updated_at: datetime
    category: Category | None = None  # None: indexed before the index kept it (rebuild it)
    clock: SlaClock | None = None
    # A PHONE case's callback owed (domain/callbacks.py); None: none, or indexed before the
    # index kept callbacks (rebuild it).
    callback: CallbackOwed | None = None


class CaseOrder(Enum):
    REGISTRATION = "registration"  # newest first
    # The running clock's deadline, nearest first (a paused clock by its last deadline); cases
    # without one after them, oldest registration first: the longest waiting.
    DEADLINE = "deadline"
    # The callback owed, earliest due first (only cases owing one: CaseFilter.callback_owed).
    CALLBACK = "callback"


@dataclass(frozen=True)
class CaseTerm:
    """A search term of a case's citizen in the case index (application/search_terms.py): a keyed
    hash of his SNILS, phone or e-mail, never the identifier."""

    case_id: str
    kind: str  # SNILS, PHONE, EMAIL
    term: str  # 32 hex digits
    # Whose key sealed the citizen (his subject, 32 hex digits, and its generation; 0: the
    # citizen is in clear): the term goes when that key is erased (adapters/erased_terms.py).
    # '' when no subject is known: only a rebuild removes the term then.
    subject: str = ""
    generation: int = 0


@dataclass(frozen=True)
class ErasedKey:
    """An erasure the key service announced (WatchErasures): the subject's keys up to
    `generation` are destroyed; `position` is the erasure journal's, to resume after."""

    subject: str  # 32 hex digits
    generation: int
    position: int


@dataclass(frozen=True)
class CaseFilter:
    """ListCases criteria; empty fields do not filter, the given ones all apply."""

    citizen_login: str = ""
    status: Status | None = None
    queue: str = ""
    assignee: str = ""
    channel: Channel | None = None
    tier: Tier | None = None
    # Only cases nobody holds: no assignee, or one of `roster_ids` (routed, not yet taken).
    unassigned: bool = False
    open_only: bool = False  # REGISTERED, IN_PROGRESS, WAITING_FOR_CITIZEN; ignored with status
    category: Category | None = None
    # Only PHONE cases owing the citizen a callback; they come in the CALLBACK order.
    callback_owed: bool = False
    order: CaseOrder = CaseOrder.REGISTRATION
    # Only the cases of the citizen with this identifier (kind SNILS, PHONE or EMAIL, the value
    # as typed); the application looks for its search term (application/search_terms.py).
    citizen_kind: str = ""
    citizen_value: str = field(default="", repr=False)
    # Set by the application from the two above: the search term the index looks for.
    citizen_term: str = ""
    # Set by the application, not by the request: the tiers the reader may see (None: all), and
    # the roster's specialist ids, which hold no case in the sense of `unassigned`.
    within_tiers: frozenset[Tier] | None = None
    roster_ids: frozenset[str] = frozenset()
    # Set by the application with `assignee`: the roster slots that person works, whose routed
    # cases are listed as theirs too.
    assignee_slots: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CasePage:
    cases: Sequence[CaseSummary]
    next_page_token: str  # empty on the last page


@dataclass(frozen=True)
class HistoryPage:
    events: Sequence[object]  # the case's domain events, oldest first
    next_after_version: int  # 0 when there is no more


@dataclass(frozen=True)
class AccessFilter:
    """ListAccessRecords criteria; empty fields do not filter. `until` is exclusive."""

    case_id: str = ""
    person: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AccessPage:
    records: Sequence[AccessRecord]  # in the order they were appended
    next_page_token: str  # empty on the last page


@dataclass(frozen=True)
class QueueChange:
    """A case event as WatchQueue sends it: the case's summary once the event is in it (the
    index may already hold later events too), and where the stream resumes after it."""

    position: int  # the event's notification id in the case log
    event_type: str  # Created, StatusChanged, Assigned, ...
    summary: CaseSummary
    escalated_from: Tier | None = None  # an escalation: the tier the case left

    def without_content(self) -> QueueChange:
        """The change with only where the case stands (id, number, status, tier, queue, times,
        category): what a reader the case left behind learns, to drop it from his queue."""
        bare = replace(self.summary, assignee="", subject="", citizen_login="", clock=None)
        return replace(self, summary=bare)


@dataclass(frozen=True)
class CaseTimelineView:
    """What the SLA service and notify said about a case, oldest first."""

    sla: Sequence[SlaFact]
    notifications: Sequence[NotificationFact]


@dataclass(frozen=True)
class QueueLoad:
    tier: Tier
    queue: str
    open: int
    unassigned: int  # open and held by nobody (see CaseFilter.unassigned)
    breached: int  # open with a breached clock


@dataclass(frozen=True)
class SpecialistLoad:
    specialist_id: str  # a roster id or a username
    open: int
    waiting_for_citizen: int


@dataclass(frozen=True)
class DeskLoad:
    """The open work as the case index counts it."""

    queues: Sequence[QueueLoad]  # by tier, then queue
    specialists: Sequence[SpecialistLoad]  # most loaded first


@dataclass(frozen=True)
class DeskOverview:
    as_of: datetime
    load: DeskLoad
    breaches_today: int  # since Moscow midnight
    compliance: Sequence[DayCounts]  # oldest first, ending today
