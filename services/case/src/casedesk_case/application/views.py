"""What queries return: plain, immutable views, never aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from casedesk_case.domain.access_journal import AccessRecord
from casedesk_case.domain.case import Case
from casedesk_case.domain.values import (
    Attachment,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
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
        )


@dataclass(frozen=True)
class CaseSummary:
    """One row of the case index (the read model behind ListCases)."""

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


@dataclass(frozen=True)
class CaseFilter:
    """ListCases criteria; empty fields do not filter."""

    citizen_login: str = ""
    status: Status | None = None
    queue: str = ""
    assignee: str = ""
    channel: Channel | None = None


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
