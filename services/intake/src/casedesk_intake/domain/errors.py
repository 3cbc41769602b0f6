"""Why intake refuses a call. grpc_api/status.py maps each to its gRPC status.

Messages are shown to frontends and logged: they name fields and rules, never personal values.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

__all__ = [
    "AttachmentDamaged",
    "AttachmentErased",
    "AttachmentNotFound",
    "CaseNotFound",
    "CaseServiceError",
    "CitizenErased",
    "IdempotencyKeyReused",
    "IdentityProviderUnavailable",
    "IntakeError",
    "InvalidRequest",
    "KeyServiceUnavailable",
    "NotYourCase",
    "RateLimited",
    "StoreUnavailable",
    "Unauthenticated",
]


class IntakeError(Exception):
    """Base of every refusal intake decides itself."""


class InvalidRequest(IntakeError):
    def __init__(self, violations: Iterable[tuple[str, str]]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(f"{field}: {text}" for field, text in self.violations))


class Unauthenticated(IntakeError):
    """No frontend token, an unknown one, a person's token that proves nothing, or no proof of
    the citizen where the call acts for one."""


class IdentityProviderUnavailable(IntakeError):
    """A person's token could not be checked: the identity provider's keys are out of reach.
    Retryable; the token itself may be fine."""


class NotYourCase(IntakeError):
    """The caller may not do this: a channel its frontend is not bound to, a proof its frontend
    may not forward, a login it may not name. Never raised for another citizen's case, which
    answers exactly like a missing one (CaseNotFound)."""


class IdempotencyKeyReused(IntakeError):
    def __init__(self) -> None:
        super().__init__(
            "this idempotency key was already used for a different request; "
            "send a new key for a new request, or repeat the original request unchanged"
        )


# The same words for a case that does not exist and for one the caller may not see, and no case
# number in them: the answer must not tell the two apart (no existence oracle).
CASE_NOT_FOUND = "case not found"
CASE_NOT_FOUND_BY_CODE = (
    "case not found, or the access code is wrong or no longer valid (a code expires, and locks "
    "after too many wrong tries): check the number or request a new code"
)


class CaseNotFound(IntakeError):
    """No such case, or not one the caller may see: the two answer alike."""

    def __init__(self, message: str = CASE_NOT_FOUND) -> None:
        super().__init__(message)


class RateLimited(IntakeError):
    def __init__(self, scope: str, retry_after: float) -> None:
        super().__init__(f"too many requests for this {scope}; retry in {retry_after:.1f} s")
        self.scope = scope
        self.retry_after = retry_after


class StoreUnavailable(IntakeError):
    """Intake's own store (the idempotency records, recent cases, one-time codes) is out of
    reach, as while its PostgreSQL restarts. Retryable: frontends retry on UNAVAILABLE only, so a
    lost connection must not reach them as INTERNAL."""

    def __init__(self) -> None:
        super().__init__("intake's store is unavailable; retry with the same idempotency key")


class CaseServiceError(IntakeError):
    """The case service refused or failed; its status is passed on to the frontend.

    `code` and `trailing` are the transport's (opaque here, read by grpc_api). `nothing_done`
    says the refusal is definite: the command was not carried out, so its idempotency key may
    carry a corrected request. `citizen_erased`: refused because the citizen's data key was
    destroyed (a sealing case service).
    """

    def __init__(
        self,
        code: object,
        message: str,
        trailing: Iterable[tuple[str, object]] | None = None,
        nothing_done: bool = False,
        citizen_erased: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.trailing = trailing
        self.nothing_done = nothing_done
        self.citizen_erased = citizen_erased


class AttachmentNotFound(IntakeError):
    """The case the person may read lists no attachment of that id."""

    field = "attachment_id"

    def __init__(self) -> None:
        super().__init__("the case has no attachment of this id")


class AttachmentErased(IntakeError):
    """The citizen's data key was shredded at his request: the file can never be read again.

    `erased_at`: when the key service destroyed his data key (files sealed with it); None for
    the vault's own keys (files stored before CASEDESK_SEAL_PERSONAL_DATA)."""

    def __init__(self, erased_at: datetime | None = None) -> None:
        self.erased_at = erased_at
        if erased_at is None:
            message = (
                "erased: the citizen's attachments were shredded at his request (right to erasure)"
            )
        else:
            message = (
                "erased: the citizen's data key was destroyed at his request (right to erasure) "
                f"at {erased_at.isoformat()}; his attachments can never be read again"
            )
        super().__init__(message)


class CitizenErased(IntakeError):
    """A file for a citizen whose data key was destroyed (right to erasure): nothing new is
    kept for him under a destroyed key, and no key is made again for him by an upload."""

    def __init__(self, erased_at: datetime) -> None:
        self.erased_at = erased_at
        super().__init__(
            "erased: the citizen's personal data was erased at his request (right to erasure) at "
            f"{erased_at.isoformat()}; intake keeps no new file for him"
        )


class KeyServiceUnavailable(IntakeError):
    """The key service (citizens' data keys) is out of reach. Retryable."""

    def __init__(self) -> None:
        super().__init__("the key service is unavailable; retry with the same idempotency key")


class AttachmentDamaged(IntakeError):
    """The case lists the attachment but intake's copy is missing, fails its authentication tag
    or differs from the SHA-256 the case recorded: nothing of it may be trusted."""
