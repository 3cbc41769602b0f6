"""The interfaces the key owner and its clients are built on; adapters implement them.

KekProvider and KeyStore are the key owner's (one process, see README.md); they are synchronous
because PKCS#11 and the database drivers block, and the owner calls them from worker threads.
KeySource is what a service sees: asynchronous, since in production it is a gRPC call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from casedesk_keys.data_keys import DataKey, StoredKey, Tombstone, WrappedKey
from casedesk_keys.subjects import SubjectId


class KekProvider(Protocol):
    """Key-encryption keys, by version; the newest version is the current one.

    Errors: KeyUnavailable (the HSM or the Secret cannot be used), KekNotFound (no such version),
    WrappedKeyDamaged (the wrapped key fails AES key wrap's integrity check).
    """

    def current_kek_id(self) -> str: ...

    def kek_ids(self) -> list[str]:
        """Every version the provider holds, oldest first."""
        ...

    def wrap(self, secret: bytes) -> WrappedKey:
        """Wrap under the current version."""
        ...

    def unwrap(self, wrapped: WrappedKey) -> bytes: ...

    def create_version(self) -> str:
        """A new KEK version, current from now on (the first step of a rotation)."""
        ...

    def retire(self, kek_id: str) -> None:
        """Destroy a version (the last step of a rotation). Irreversible."""
        ...

    def close(self) -> None: ...


class KeyStore(Protocol):
    """Wrapped data keys and the tombstones of erased ones, one row per (subject, generation).

    Every write is race-safe across processes: the (subject, generation) key decides.
    """

    def latest(self, subject: SubjectId) -> StoredKey | None:
        """The subject's highest generation, live or erased; None if it never had one."""
        ...

    def get(self, subject: SubjectId, generation: int) -> StoredKey | None: ...

    def add(
        self, subject: SubjectId, generation: int, wrapped: WrappedKey, created_at: datetime
    ) -> StoredKey:
        """Insert unless the row exists; returns the stored row (the winner of a race, or the
        tombstone an erasure left first)."""
        ...

    def add_many(
        self, keys: Sequence[tuple[SubjectId, int, WrappedKey]], created_at: datetime
    ) -> list[StoredKey]:
        """`add` for several rows in one commit (one fsync for a batch of new citizens);
        the stored rows in the same order."""
        ...

    def erase(
        self, subject: SubjectId, erased_at: datetime, erased_by: str, reason: str
    ) -> Tombstone:
        """Delete the subject's wrapped keys, keep tombstones (one for generation 1 if it never
        had a key, so none can be made later); idempotent: the first erasure's tombstone."""
        ...

    def wrapped_not_under(
        self, kek_id: str, after: tuple[SubjectId, int] | None, limit: int
    ) -> list[StoredKey]:
        """Live keys wrapped under another KEK, in (subject, generation) order after `after`."""
        ...

    def rewrap(self, subject: SubjectId, generation: int, old: WrappedKey, new: WrappedKey) -> bool:
        """Replace `old` by `new` if the row still holds `old` (not erased or rewrapped
        meanwhile); whether it did."""
        ...

    def counts_by_kek(self) -> dict[str, int]:
        """How many live keys each KEK version wraps."""
        ...

    def close(self) -> None: ...


class KeySource(Protocol):
    """A service's way to a citizen's data key (the key service's client, or the keyring in the
    owner's process). Errors: KeyErased, KeyNotFound, KeyUnavailable."""

    async def current_key(self, subject: SubjectId) -> DataKey:
        """The key to encrypt new fields with; made on first use, never for an erased subject."""
        ...

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        """The key a token names, to decrypt it."""
        ...
