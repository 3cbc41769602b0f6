"""What the use cases need from the outside world; adapters/ implements each.

Idempotency records are keyed by (frontend, key) and hold a digest of the request and, once the
call succeeded, the serialized reply. A record without a reply is a call that was started and
never finished (a crash between the case service and here): it is simply run again, because the
key intake passes on to the case service is derived from this one and the case service returns
its original result. The same reasoning makes losing the last writes at a power failure harmless.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from casedesk_intake.domain.access_codes import Contact, ContactKind
from casedesk_intake.domain.acting import VerifiedPerson
from casedesk_intake.domain.cases import (
    AnswerConfirmation,
    AnswerRating,
    Case,
    CaseEventSeen,
    CasePage,
    EscalationPlea,
    NewCase,
    NewComment,
    Repetition,
)
from casedesk_intake.domain.citizens import Citizen

R = TypeVar("R")


class RequestMismatch(Exception):
    """The key was used before with a request of another digest."""


@dataclass(frozen=True)
class RecentCase:
    """A case intake registered, remembered so that a follow-up about the same service links."""

    citizen_ref: str
    service_key: str
    case_id: str
    case_number: str
    registered_at: float  # epoch seconds
    # The case service key of the call that registered it: a retry of that call (which the case
    # service answers from its receipt) must not find its own case and link to it.
    command_key: str = ""


class IntakeStore(Protocol):
    """Intake's only durable state: idempotency records, the index of recent cases and the
    current one-time code of each case a code was asked for."""

    async def claim(self, frontend: str, key: str, request_hash: str) -> bytes | None:
        """Start a call: returns the stored reply of a finished earlier call with this key, or
        None when the call must run. Raises RequestMismatch for a reused key."""

    async def complete(
        self,
        frontend: str,
        key: str,
        request_hash: str,
        response: bytes,
        recent: RecentCase | None = None,
    ) -> None:
        """Store the reply (and the new case for linking) in one transaction; a claim purged
        meanwhile is written afresh."""

    async def release(self, frontend: str, key: str) -> None:
        """Forget an unfinished call that was refused, so its key may carry a corrected request."""

    async def remember(self, recent: RecentCase) -> None:
        """Keep a new case for linking, without a reply: a call the case service's receipt
        answers on a retry (see IdempotentCalls.run_on_receipt)."""

    async def latest_case(
        self, citizen_ref: str, service_key: str, since: float, call_key: str = ""
    ) -> RecentCase | None:
        """The citizen's latest case about the service since then, as the call registering a
        case under `call_key` sees it: never that call's own case, nor one registered after it
        (a retry links its case as its first attempt did, so it sends the same command)."""

    async def issue_code(self, case_number: str, code_hash: str, expires_at: float) -> None:
        """Keep the case's new code, replacing an earlier one and its count of wrong tries."""

    async def use_code(self, case_number: str, code_hash: str, now: float, max_wrong: int) -> bool:
        """Whether `code_hash` is the case's current code, unexpired and not locked. A wrong
        code counts a try and the `max_wrong`-th locks the code. Checked and counted in one
        statement, so the tries of every replica count together."""

    async def purge(
        self, idempotency_before: float, recent_before: float, codes_before: float | None = None
    ) -> None: ...

    async def sealed_since(self) -> float | None:
        """Since when (epoch seconds) what is kept here is sealed; None: never sealed."""

    async def mark_sealed(self, since: float) -> None:
        """Remember that sealing is on from `since` (the first mark stays)."""

    async def close(self) -> None: ...


class CaseService(Protocol):
    """The case service, the only writer of case state. Refusals raise CaseServiceError."""

    async def create_case(self, new: NewCase) -> Case: ...

    async def add_comment(self, comment: NewComment) -> Case: ...

    async def repeat_case(self, repetition: Repetition) -> Case: ...

    async def request_escalation(self, plea: EscalationPlea) -> Case: ...

    async def confirm_answer(self, confirmation: AnswerConfirmation) -> Case: ...

    async def rate_answer(self, rating: AnswerRating) -> Case: ...

    async def find_by_number(self, number: str, person_token: str = "") -> Case | None:
        """`person_token`: the operator's for whom intake reads (the case service journals the
        read as his); empty: intake reads for itself or for a citizen, not journaled."""

    async def list_for_citizen(self, login: str, page_size: int, page_token: str) -> CasePage: ...

    async def read_case(self, case_id: str, person_token: str = "") -> Case:
        """The case now, by id; `person_token` as for `find_by_number`. NOT_FOUND raises."""

    def watch_case(
        self, case_id: str, after_version: int, person_token: str = ""
    ) -> AsyncIterator[CaseEventSeen]:
        """The case's events after `after_version` as they are stored; ends when the case
        service ends the stream cleanly (watch again after the last version), raises
        CaseServiceError when it refuses. `person_token` as for `find_by_number`."""

    async def read_for_person(self, case_id: str, person_token: str, purpose: str) -> Case:
        """The case as the person with this token may read it, for `purpose`: the case service
        verifies the token, applies its read rule and journals the read as the person's, via
        intake. Its refusals (NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED) raise
        CaseServiceError with its status."""


class Vault(Protocol):
    """Encrypted files, per citizen."""

    async def store(
        self, citizen_ref: str, attachment_id: str, content: bytes, citizen: Citizen | None = None
    ) -> str:
        """Keep the file; returns the hex SHA-256 of its content. `citizen`: whose data key
        seals it (CASEDESK_SEAL_PERSONAL_DATA); CitizenErased if his key was destroyed."""

    async def read(self, citizen_ref: str, attachment_id: str) -> bytes:
        """The decrypted file. Raises AttachmentErased (the citizen's key was shredded) or
        AttachmentDamaged (the file is missing or fails its check)."""

    async def erase_citizen(self, citizen_ref: str) -> None:
        """Shred every file of the citizen."""


class CitizenReferences(Protocol):
    """Pseudonyms of citizen identities, so storage holds no readable personal identifier."""

    def of(self, identity: str) -> str: ...


class ReplyCodec(Protocol[R]):
    """How a reply is kept in an idempotency record, to be replayed to a retry."""

    def encode(self, reply: R) -> bytes: ...

    def decode(self, stored: bytes) -> R: ...


class RecordSealer(Protocol):
    """Intake's idempotency records with CASEDESK_SEAL_PERSONAL_DATA on: a reply that holds a
    citizen's data sealed with his key, and request digests as keyed hashes."""

    async def seal(self, citizen: Citizen, place: str, reply: bytes) -> bytes:
        """The reply as it is kept; CitizenErased, KeyServiceUnavailable."""

    async def open(self, place: str, kept: bytes) -> bytes:
        """The reply again (one kept in clear as it is); CitizenErased once his key was
        destroyed, KeyServiceUnavailable."""

    def digest(self, request_digest: str) -> str:
        """What is kept of a request's digest: only ever compared."""


class ReturningCitizens(Protocol):
    """With CASEDESK_SEAL_PERSONAL_DATA: a citizen whose data was erased may write again."""

    async def welcome_back(self, citizen: Citizen) -> None:
        """His new case was refused as erased: a new data key for him (nothing changes for a
        citizen who is not erased); KeyServiceUnavailable."""


class CodeDigests(Protocol):
    """Keyed hashes of one-time codes: six digits are too few for a plain hash to hide them."""

    def of(self, case_number: str, code: str) -> str: ...


class DeliveryFailed(Exception):
    """A code could not be handed to the mail server or the SMS gateway (no address in it)."""


class CodeSender(Protocol):
    """E-mail and SMS, for one-time codes."""

    def can_send(self, kind: ContactKind) -> bool: ...

    async def send(self, contact: Contact, subject: str, text: str) -> None:
        """Raises DeliveryFailed."""


class IdentityTokens(Protocol):
    """Access tokens of one identity provider (the portal's, or the staff's)."""

    async def verify(self, token: str) -> VerifiedPerson:
        """Raises Unauthenticated (the token proves nothing) or IdentityProviderUnavailable."""
