"""Why intake refuses a call. grpc_api/status.py maps each to its gRPC status.

Messages are shown to frontends and logged: they name fields and rules, never personal values.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CaseNotFound",
    "CaseServiceError",
    "IdempotencyKeyReused",
    "IntakeError",
    "InvalidRequest",
    "NotYourCase",
    "RateLimited",
    "Unauthenticated",
]


class IntakeError(Exception):
    """Base of every refusal intake decides itself."""


class InvalidRequest(IntakeError):
    def __init__(self, violations: Iterable[tuple[str, str]]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(f"{field}: {text}" for field, text in self.violations))


class Unauthenticated(IntakeError):
    """No frontend token, an unknown one, or no citizen where the call acts for one."""


class NotYourCase(IntakeError):
    """The frontend may not do this: a channel it is not bound to, or another citizen's case."""


class IdempotencyKeyReused(IntakeError):
    def __init__(self) -> None:
        super().__init__(
            "this idempotency key was already used for a different request; "
            "send a new key for a new request, or repeat the original request unchanged"
        )


class CaseNotFound(IntakeError):
    def __init__(self, number: str) -> None:
        super().__init__(f"case {number} not found")
        self.number = number


class RateLimited(IntakeError):
    def __init__(self, scope: str, retry_after: float) -> None:
        super().__init__(f"too many requests for this {scope}; retry in {retry_after:.1f} s")
        self.scope = scope
        self.retry_after = retry_after


class CaseServiceError(IntakeError):
    """The case service refused or failed; its status is passed on to the frontend.

    `code` and `trailing` are the transport's (opaque here, read by grpc_api). `nothing_done`
    says the refusal is definite: the command was not carried out, so its idempotency key may
    carry a corrected request.
    """

    def __init__(
        self,
        code: object,
        message: str,
        trailing: Iterable[tuple[str, object]] | None = None,
        nothing_done: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.trailing = trailing
        self.nothing_done = nothing_done
