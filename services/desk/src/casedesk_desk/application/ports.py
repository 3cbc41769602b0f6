"""What the use cases need from the outside: the identity provider, the case service and
intake's attachment vault, and the values they answer with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from casedesk_desk.domain.citizen_search import CitizenLookup
from casedesk_desk.domain.overview import Overview
from casedesk_desk.domain.queue import NO_CLOCK, Clock, QueueRow


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_in_s: float
    refresh_token: str | None
    id_token: str | None


class IdentityProvider(Protocol):
    async def authorization_url(
        self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str
    ) -> str: ...

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Raises SignInFailed when the provider refuses the code."""
        ...

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Raises SignInFailed when the refresh token is no longer good."""
        ...

    async def end_session_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str: ...


@dataclass(frozen=True)
class QueueQuery:
    """ListCases' filters; the case service filters, orders and pages."""

    status: str = ""  # vocabulary Status name; empty: any (see open_only)
    channel: str = ""
    category: str = ""
    queue: str = ""
    assignee: str = ""
    tier: str = ""  # L1, L2, L3; empty: any
    unassigned: bool = False
    open_only: bool = False
    callback_owed: bool = False  # only PHONE cases owing a callback, earliest due first
    # Only the cases of the citizen with this SNILS, phone or e-mail (keyed hashes in the case
    # service); its value never shows in the query's repr.
    citizen: CitizenLookup | None = None
    by_deadline: bool = True
    page_token: str = ""
    page_size: int = 50
    purpose: str = ""  # the journal's purpose of the read; empty: «работа с очередью»


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_page_token: str


@dataclass(frozen=True)
class QueueChange:
    """One change of a case the person may read (WatchQueue): the case after it."""

    position: str  # the stream's resume point
    row: QueueRow
    event_type: str  # Created, StatusChanged, Commented, ...


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    actor: str
    what: str  # one Russian line
    body: str = ""  # a comment's text
    public: bool = True
    version: int = 0  # the case's version after this event (0: not a case event)
    source: str = "case"  # case (an event), sla (a clock), notice (a notification)
    kind: str = ""  # a case event's payload (callback_recorded, merged_into, ...)
    # Another case the line speaks of (a merge), linked from the line: its id and number.
    related_case: str = ""
    related_number: str = ""
    # The files that came with a comment (a citizen's documents sent as asked), opened through
    # the case's attachment route (case_id: the case they belong to).
    files: tuple[AttachmentInfo, ...] = ()
    case_id: str = ""


@dataclass(frozen=True)
class CaseChange:
    """One event of a watched case: its history line and what it changed on the case page."""

    item: HistoryItem
    status: str | None = None  # vocabulary Status name, when the status changed
    assignee: str | None = None  # when (re)assigned; "" for the queue without a specialist
    tier: str | None = None  # when escalated


@dataclass(frozen=True)
class Timeline:
    """What the SLA service and notify said about a case, as history lines, and where its
    SLA clock stands now."""

    items: list[HistoryItem] = field(default_factory=list)
    clock: Clock = NO_CLOCK


@dataclass(frozen=True)
class CitizenCard:
    full_name: str
    account_login: str
    snils: str
    inn: str
    mobile_phone: str
    email: str


@dataclass(frozen=True)
class AttachmentInfo:
    attachment_id: str
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str = ""  # hex of the plaintext


@dataclass(frozen=True)
class Rating:
    """The citizen's rating of the answer."""

    score: int  # 1 to 5
    comment: str  # the citizen's free text
    at: datetime | None
    channel: str  # where the rating came from


@dataclass(frozen=True)
class PhoneCall:
    """How a PHONE case's caller reached support and was identified (no number: the citizen
    card has the contact details, masked)."""

    from_abroad: bool
    caller_checks: list[str]  # CallerCheck names, as the operator recorded them


@dataclass(frozen=True)
class CaseDetails:
    case_id: str
    number: str
    version: int
    status: str
    channel: str
    category: str
    queue: str
    tier: str
    priority: str
    assignee: str
    subject: str
    description: str
    citizen: CitizenCard
    registered_at: datetime
    attachments: list[AttachmentInfo] = field(default_factory=list)
    rating: Rating | None = None
    close_reason: str = ""  # a CloseReason name while CLOSED; empty before close reasons existed
    merged_into: str = ""  # the case id a duplicate was merged into
    merged_duplicates: list[str] = field(default_factory=list)  # case ids merged into this one
    callback_due: datetime | None = None  # a PHONE case owing the citizen a callback
    callback_purpose: str = ""  # FIRST_RESPONSE, ANSWER or ESCALATION
    overdue: bool = False  # a deadline passed and the case is not yet answered
    phone: PhoneCall | None = None  # PHONE cases


class Cases(Protocol):
    """The case service acting for the person whose access token is given. Raises Refused."""

    async def list_cases(self, token: str, query: QueueQuery) -> QueuePage: ...

    async def get_case(self, token: str, case_id: str, purpose: str) -> CaseDetails: ...

    async def find_case(self, token: str, number: str, purpose: str) -> CaseDetails:
        """The case registered with `number` (GetCase by number)."""
        ...

    async def history(self, token: str, case_id: str, purpose: str) -> list[HistoryItem]: ...

    async def timeline(self, token: str, case_id: str, purpose: str) -> Timeline: ...

    async def overview(self, token: str, days: int) -> Overview: ...

    async def comment(self, token: str, case_id: str, body: str, public: bool) -> None: ...

    async def change_status(self, token: str, case_id: str, action: str, reason: str) -> None: ...

    async def escalate(self, token: str, case_id: str, to_tier: str, reason: str) -> None:
        """`to_tier`: L2 or L3; `reason`: an EscalationReason name."""
        ...

    async def assign(self, token: str, case_id: str, specialist_id: str) -> None:
        """`specialist_id` empty: the case service picks by specialization and load."""
        ...

    async def record_callback(self, token: str, case_id: str, reached: bool, note: str) -> None:
        """A callback made to the citizen of a PHONE case."""
        ...

    async def close_case(self, token: str, case_id: str, reason: str, explanation: str) -> None:
        """`reason`: a CloseReason name (SPAM); supervisors only (the case service refuses)."""
        ...

    async def merge_cases(
        self, token: str, duplicate_case_id: str, target_case_id: str, reason: str
    ) -> None:
        """The duplicate closed into the target; supervisors only (the case service refuses)."""
        ...

    def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        """The case's events after `after_version` as they are stored, until the case service
        ends the stream (Refused SIGNED_OUT when the token expires)."""
        ...

    def watch_queue(self, token: str, after_position: str) -> AsyncIterator[QueueChange]:
        """Every change of a case the person may read, after `after_position` (empty: from now
        on), until the case service ends the stream (Refused SIGNED_OUT at the token's expiry)."""
        ...


@dataclass(frozen=True)
class OpenedAttachment:
    info: AttachmentInfo
    chunks: AsyncIterator[bytes]  # the content in order; raises Refused if the stream breaks


class AttachmentVault(Protocol):
    """Intake's decryption of a case's attachment for the person whose token is given."""

    async def open(self, token: str, case_id: str, attachment_id: str) -> OpenedAttachment:
        """Raises Refused before any content when intake (or the case service) refuses."""
        ...
