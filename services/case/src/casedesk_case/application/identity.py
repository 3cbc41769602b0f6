"""People's access tokens, as the case service needs them: the port the composition root fills
with the identity provider's verifier (adapters/person_tokens.py), and its two failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from casedesk_case.domain.person_rules import Person


class PersonUnauthenticated(Exception):
    """No person token, or one that proves nothing (gRPC: UNAUTHENTICATED). The message says
    which, in fixed words: safe to log and to return."""


class IdentityProviderUnavailable(Exception):
    """The identity provider's signing keys cannot be fetched, so no token can be judged
    (gRPC: UNAVAILABLE; the token itself may be fine, the caller may retry)."""


@dataclass(frozen=True)
class VerifiedPerson:
    person: Person
    expires_at: datetime  # the token's `exp`: a WatchCase stream ends there


class PersonTokens(Protocol):
    async def verify(self, token: str) -> VerifiedPerson:
        """Raises PersonUnauthenticated or IdentityProviderUnavailable."""
        ...
