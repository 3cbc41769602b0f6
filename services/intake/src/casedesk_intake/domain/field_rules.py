"""Field-level rules shared by every request: texts, keys, case numbers, citizen identifiers.

Every problem becomes a (field path, description) pair for google.rpc.BadRequest; all problems of
a request are reported at once, so a frontend can mark every bad field in one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.domain.identifiers import (
    IdentifierError,
    normalize_email,
    normalize_inn,
    normalize_phone,
    normalize_snils,
)

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
CASE_NUMBER = re.compile(r"^\d{4}-\d{7,12}$")
# Unicode categories Cc (C0 and C1 controls) and Cs (surrogates), except tab and line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class TextLimits:
    """Longest texts accepted, in characters."""

    subject: int = 250
    description: int = 20_000
    steps_taken: int = 5_000
    service_name: int = 300
    service_code: int = 64
    full_name: int = 300
    account_login: int = 128
    comment: int = 20_000
    reason: int = 2_000
    rating_comment: int = 2_000  # the case service's limit for AnswerRated.comment
    reference: int = 512


class Violations:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        self.items.append((field, description))

    def extend(self, found: Iterable[tuple[str, str]]) -> None:
        self.items.extend(found)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidRequest(self.items)

    def text(self, field: str, value: str, limit: int, required: bool = False) -> str:
        """Check a free text; returns it stripped of surrounding white space."""
        stripped = value.strip()
        if required and not stripped:
            self.add(field, "is required")
        elif len(value) > limit:
            self.add(field, f"is longer than {limit} characters")
        elif has_control_characters(value):
            self.add(field, "contains control characters")
        return stripped

    def identifier(self, field: str, value: str, normalize: Callable[[str], str]) -> str:
        """Check an optional identifier; returns its normalised form ('' when absent or bad)."""
        if not value:
            return ""
        try:
            return normalize(value)
        except IdentifierError as problem:
            self.add(field, str(problem))
            return ""

    def idempotency_key(self, value: str) -> None:
        if not value:
            self.add("idempotency_key", "is required: a retry must send the same key")
        elif not _IDEMPOTENCY_KEY.fullmatch(value):
            self.add("idempotency_key", "must be 1-128 printable ASCII characters without spaces")

    def case_number(self, value: str, field: str = "case_number") -> None:
        if not value:
            self.add(field, "is required")
        elif not CASE_NUMBER.fullmatch(value):
            self.add(field, "expected a case number like 2026-0001234")


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def snils(found: Violations, field: str, value: str) -> str:
    return found.identifier(field, value, normalize_snils)


def inn(found: Violations, field: str, value: str) -> str:
    return found.identifier(field, value, normalize_inn)


def phone(found: Violations, field: str, value: str) -> str:
    return found.identifier(field, value, normalize_phone)


def email(found: Violations, field: str, value: str) -> str:
    return found.identifier(field, value, normalize_email)
