"""What intake answers: the acknowledgement of a new case, and a case as the citizen sees it.

The citizen never sees internal notes, the assignee, the queue or the tier. He may repeat a case
once it is answered («Ответ готов», «Закрыта») or overdue (a deadline passed before any answer),
and rate an answered case once, unless it was closed as spam or a duplicate, unanswered (the
seed's rules; the case service has the last word).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casedesk_intake.domain.cases import Case, CaseSummary
from casedesk_intake.domain.mail_rules import MailIgnored
from casedesk_vocabulary.enums import ActorKind, Channel, Status
from casedesk_vocabulary.wording import status_label

ANSWERED = frozenset({Status.ANSWER_READY, Status.CLOSED})


@dataclass(frozen=True)
class DueDates:
    resolution_due: datetime
    first_response_due: datetime | None
    policy_version: str
    calendar_version: str


@dataclass(frozen=True)
class Acknowledgement:
    case_id: str
    number: str
    status: Status | None
    deadlines: DueDates | None
    text: str
    linked_to_number: str = ""


@dataclass(frozen=True)
class CitizenComment:
    body: str
    from_support: bool
    at: datetime | None


@dataclass(frozen=True)
class CitizenCase:
    number: str
    status: Status | None
    status_label: str
    channel: Channel | None
    subject: str
    comments: tuple[CitizenComment, ...] = ()
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    rating: int = 0  # 0 until rated
    can_repeat: bool = False
    can_rate: bool = False

    @classmethod
    def of(cls, case: Case) -> CitizenCase:
        """The case without what only support sees; public comments only."""
        answered = case.status in ANSWERED
        return cls(
            number=case.number,
            status=case.status,
            status_label=label_of(case.status),
            channel=case.channel,
            subject=case.subject,
            comments=tuple(
                CitizenComment(c.body, c.author_kind is not ActorKind.CITIZEN, c.at)
                for c in case.comments
                if c.public
            ),
            registered_at=case.registered_at,
            updated_at=case.updated_at,
            rating=case.rating,
            can_repeat=answered or case.overdue,
            can_rate=answered and not case.rating and not case.closed_unanswered,
        )

    @classmethod
    def of_summary(cls, case: CaseSummary) -> CitizenCase:
        """A case in a list: the case service's summaries carry no rating, so neither the rating
        nor `can_rate` is known here (GetCase and WatchMyCase have them)."""
        return cls(
            number=case.number,
            status=case.status,
            status_label=label_of(case.status),
            channel=case.channel,
            subject=case.subject,
            registered_at=case.registered_at,
            updated_at=case.updated_at,
            can_repeat=case.status in ANSWERED or case.overdue,
        )


@dataclass(frozen=True)
class CitizenCaseChange:
    """The case after a change the citizen may see, and its version (resume after it)."""

    case: CitizenCase
    version: int


@dataclass(frozen=True)
class CitizenCaseList:
    cases: tuple[CitizenCase, ...]
    next_page_token: str = ""


@dataclass(frozen=True)
class MailOutcome:
    """A message from the e-mail gateway became a new case or a comment on a known one, or was
    left alone (automatic, list or forged mail: domain/mail_rules.py)."""

    created: Acknowledgement | None = None
    commented: CitizenCase | None = None
    ignored: MailIgnored | None = None


def label_of(status: Status | None) -> str:
    return status_label(status.value if status is not None else "")
