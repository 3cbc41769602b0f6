"""What the use cases need from the outside: the erasure journal and the verification of a
person's token."""

from __future__ import annotations

from typing import Protocol

from casedesk_keys import Tombstone
from casedesk_keyservice.domain import ErasureRecord, Person


class ErasureJournal(Protocol):
    """Every erasure, in the order it was journaled (positions increase, with gaps). Synchronous
    (a database driver): called from worker threads. Failures are casedesk_keys' KeyUnavailable.
    """

    def record(self, tombstone: Tombstone, caller: str) -> tuple[ErasureRecord, bool]:
        """Journal the erasure a tombstone stands for, unless its (subject, generation) is
        journaled already; the journal's row and whether this call wrote it."""
        ...

    def after(self, position: int, limit: int) -> list[ErasureRecord]:
        """The records after `position`, oldest first, at most `limit`."""
        ...

    def head(self) -> int:
        """The newest position, 0 when nothing was erased yet."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class PersonUnauthenticated(Exception):
    """The call acts for a person and carries no token, or one that proves nothing (the message
    says which, never the token)."""


class IdentityProviderUnavailable(Exception):
    """The identity provider's keys cannot be fetched: the token may be fine, retry later."""


class PersonTokens(Protocol):
    async def verify(self, token: str) -> Person:
        """The person the token names; PersonUnauthenticated or IdentityProviderUnavailable."""
        ...
