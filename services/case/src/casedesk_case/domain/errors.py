"""Why a command on a case is refused.

Each error names the rule that was broken and what would have been allowed, so a specialist or a
calling service can act on the message. Messages never contain personal data.
"""

from __future__ import annotations

from collections.abc import Iterable


class CaseError(Exception):
    """Base of every refusal by the case domain or application."""


class PreconditionFailed(CaseError):
    """The command is well formed but the case's current state does not allow it."""


class InvalidCommand(CaseError):
    """The command itself is malformed; `field` names the offending input."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class IllegalTransition(PreconditionFailed):
    def __init__(self, number: str, current: object, requested: object, allowed: Iterable) -> None:
        names = sorted(getattr(a, "value", str(a)) for a in allowed)
        allowed_text = ", ".join(names) if names else "none (the case is final)"
        super().__init__(
            f"case {number} cannot move from {getattr(current, 'value', current)} to "
            f"{getattr(requested, 'value', requested)}; allowed: {allowed_text}"
        )
        self.current = current
        self.requested = requested
        self.allowed = tuple(allowed)


class CaseClosed(PreconditionFailed):
    def __init__(self, number: str, action: str, hint: str = "") -> None:
        message = f"case {number} is closed: cannot {action}"
        super().__init__(f"{message}; {hint}" if hint else message)


class AnswerMissing(PreconditionFailed):
    """«Ответ готов» asked for while the citizen has no answer to the latest question."""

    def __init__(self, case_id: str, number: str, question: str) -> None:
        super().__init__(
            f"case {number} cannot be marked ANSWER_READY («Ответ готов»): there is no answer to "
            f"{question} yet; a specialist's public reply (AddComment with public=true; an "
            "internal note is not one) must come after it"
        )
        self.case_id = case_id
        self.question = question


class NotPermitted(CaseError):
    """Who acts may not do this (gRPC: PERMISSION_DENIED); the message is the rule, in words.

    Raised by the rules in person_rules.py. Never raised for a case the actor may not see: that
    case is answered as missing (CaseNotFound), so a refusal tells nothing about its existence.
    """


class CaseNotFound(CaseError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"case {reference} not found")
        self.reference = reference


class VersionConflict(CaseError):
    """Optimistic concurrency: the case moved on since the caller read it."""

    def __init__(self, case_id: str, expected: int, actual: int | None = None) -> None:
        detail = f", it is at version {actual}" if actual is not None else ""
        super().__init__(f"case {case_id} is not at expected version {expected}{detail}")
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(CaseError):
    """The same idempotency key arrived with a different command."""

    def __init__(self, key_hint: str, original_command: str) -> None:
        super().__init__(
            f"idempotency key {key_hint} was already used for a different {original_command} "
            "command; use a new key for a new command"
        )
