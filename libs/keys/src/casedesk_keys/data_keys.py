"""The values the key owner and its clients pass around: data keys, wrapped keys, tombstones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from casedesk_keys.subjects import SubjectId

DATA_KEY_BYTES = 32  # AES-256


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted by a key-encryption key; `kek_id` names the KEK and its version
    (e.g. `casedesk-kek.v2`), so a rotation knows which keys are still under an old one."""

    kek_id: str
    blob: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What an erasure leaves behind: reads answer "erased" rather than "unknown".

    `reason` is a reference (the erasure request's or the retention rule's id), never free text
    about the citizen: tombstones are kept forever.
    """

    subject: SubjectId
    generation: int
    erased_at: datetime
    erased_by: str
    reason: str


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One row of the key store: a live wrapped key, or the tombstone of an erased one."""

    subject: SubjectId
    generation: int
    created_at: datetime
    wrapped: WrappedKey | None
    tombstone: Tombstone | None

    def __post_init__(self) -> None:
        if (self.wrapped is None) == (self.tombstone is None):
            raise ValueError("a stored key is either wrapped or erased")


class DataKey:
    """A citizen's unwrapped data key (generation `generation` of subject `subject`).

    The secret never appears in repr or str. The AES-GCM object is built once: building it
    costs about as much as sealing a short field.
    """

    __slots__ = ("_aead", "_secret", "generation", "subject")

    def __init__(self, subject: SubjectId, generation: int, secret: bytes) -> None:
        if len(secret) != DATA_KEY_BYTES:
            raise ValueError(f"a data key has {DATA_KEY_BYTES} bytes")
        if generation < 1:
            raise ValueError("key generations start at 1")
        self.subject = subject
        self.generation = generation
        self._secret = bytes(secret)
        self._aead = AESGCM(self._secret)

    @property
    def aead(self) -> AESGCM:
        return self._aead

    def secret(self) -> bytes:
        """The raw key, for wrapping it (the key owner) or handing it to a client (the key
        service's answer); nothing else needs it."""
        return self._secret

    def __repr__(self) -> str:
        return f"DataKey(subject={self.subject}, generation={self.generation})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataKey):
            return NotImplemented
        return (self.subject, self.generation, self._secret) == (
            other.subject,
            other.generation,
            other._secret,
        )

    def __hash__(self) -> int:
        return hash((self.subject, self.generation))
