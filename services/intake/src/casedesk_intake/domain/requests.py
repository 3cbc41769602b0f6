"""The frontends' requests as use cases get them: decoded values with their checks' verdict.

The wire decodes and checks a request before the use case runs, but the use case refuses it only
at its turn: rate limits (the cheapest refusal) come first, so a flood of bad requests is limited
like any other, and a refused request never uses up its idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.errors import IntakeError
from casedesk_intake.domain.submissions import Origin
from casedesk_vocabulary.enums import Channel, EscalationReason

T = TypeVar("T")


@dataclass(frozen=True)
class Request(Generic[T]):
    """`digest` tells a retry (same digest) from another request under the same key."""

    value: T
    idempotency_key: str = ""
    digest: str = ""
    refusal: IntakeError | None = None

    def checked(self) -> T:
        """The value, or the refusal its checks came to."""
        if self.refusal is not None:
            raise self.refusal
        return self.value


@dataclass(frozen=True)
class CommentRequest:
    case_number: str
    body: str
    attachments: tuple[Upload, ...] = ()


@dataclass(frozen=True)
class RepeatRequest:
    """`channel` None: the original's (and then no provenance: the original's is kept)."""

    case_number: str
    reason: str
    channel: Channel | None = None
    provenance: Origin | None = None
    attachments: tuple[Upload, ...] = ()


@dataclass(frozen=True)
class ConfirmationRequest:
    case_number: str


@dataclass(frozen=True)
class RatingRequest:
    case_number: str
    score: int
    comment: str


@dataclass(frozen=True)
class WatchRequest:
    case_number: str
    after_version: int  # 0: the case now, then its changes


@dataclass(frozen=True)
class EscalationRequest:
    case_number: str
    reason: EscalationReason | None
    explanation: str


@dataclass(frozen=True)
class PageRequest:
    page_size: int
    page_token: str
