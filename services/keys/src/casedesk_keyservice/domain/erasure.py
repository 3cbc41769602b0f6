"""An erasure order (whom, why) and what the erasure journal keeps of each erased subject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casedesk_keys import CitizenIdentity, SubjectId
from casedesk_keyservice.domain.errors import InvalidOrder

REASON_LIMIT = 200  # the keyring's limit for references kept in tombstones
MAX_SUBJECTS = 100
NAMED_SUBJECT = "subject"  # `derived_from` of a subject the order named as such


def check_reason(reason: str) -> str:
    """A reference (request number, retention rule), kept forever: one printable line."""
    reason = reason.strip()
    if not reason:
        raise InvalidOrder("reason", "required: the erasure request's reference or rule")
    if len(reason) > REASON_LIMIT:
        raise InvalidOrder("reason", f"at most {REASON_LIMIT} characters")
    if not reason.isprintable():
        raise InvalidOrder("reason", "one line of printable characters")
    return reason


@dataclass(frozen=True)
class ErasureOrder:
    """Erase the subjects of every identifier `identity` carries, and `subjects` besides."""

    identity: CitizenIdentity
    subjects: tuple[SubjectId, ...]
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", check_reason(self.reason))
        if len(self.subjects) > MAX_SUBJECTS:
            raise InvalidOrder("subjects", f"at most {MAX_SUBJECTS} in one request")
        if not self.subjects and not any(_given(self.identity)):
            raise InvalidOrder(
                "identifiers",
                "name at least one identifier (login, SNILS, INN, e-mail, phone) or a subject",
            )


def _given(identity: CitizenIdentity) -> list[str]:
    fields = (identity.login, identity.snils, identity.inn, identity.email, identity.phone)
    return [value for value in fields if value.strip()]


@dataclass(frozen=True)
class ErasureRecord:
    """One row of the erasure journal: a subject's keys up to `generation` destroyed."""

    position: int
    subject: SubjectId
    generation: int
    erased_at: datetime
    erased_by: str
    caller: str
    reason: str


@dataclass(frozen=True)
class ErasureOutcome:
    derived_from: str  # an IdentifierKind's value, or NAMED_SUBJECT
    record: ErasureRecord
    already_erased: bool  # journaled by an earlier order: its who, when and why
