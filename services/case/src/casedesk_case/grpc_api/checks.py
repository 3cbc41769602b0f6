"""Collecting every problem of a request, so that a caller fixes them all in one round."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from google.protobuf.timestamp_pb2 import Timestamp

from casedesk_case.domain.errors import InvalidCommand
from casedesk_runtime.events import from_timestamp

T = TypeVar("T")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_KEY_LENGTH = 200


class InvalidRequest(Exception):
    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {d}" for f, d in violations))
        self.violations = violations


class RequestCheck:
    def __init__(self) -> None:
        self.violations: list[tuple[str, str]] = []

    def decode(self, decoder: Callable[[], T]) -> T | None:
        """Run a decoder that may raise InvalidCommand; record its problem instead."""
        try:
            return decoder()
        except InvalidCommand as problem:
            self.violations.append((problem.field, problem.description))
            return None

    def require(self, condition: bool, field: str, description: str) -> None:
        if not condition:
            self.violations.append((field, description))

    def case_id(self, value: str, field: str = "case_id") -> None:
        if not value:
            self.violations.append((field, "is required"))
            return
        try:
            UUID(value)
        except ValueError:
            self.violations.append((field, "is not a case id (a UUID)"))

    def instant(self, stamp: Timestamp, field: str) -> datetime | None:
        """The Timestamp as an instant; one a valid protobuf holds but no datetime does (before
        year 1, after 9999) is this field's violation, not the server's OverflowError."""
        try:
            return from_timestamp(stamp)
        except (OverflowError, ValueError):
            self.violations.append((field, "is outside the years 1 to 9999"))
            return None

    def sha256(self, value: str, field: str) -> None:
        self.require(bool(_SHA256.match(value)), field, "must be 64 lowercase hex digits")

    def done(self) -> None:
        if self.violations:
            raise InvalidRequest(self.violations)
