"""What can go wrong with a citizen's key or an encrypted field, each failure its own class.

Messages name the subject (a pseudonym, never the identity it was derived from) and the key
generation, never a plaintext or a key: they end up in logs and gRPC statuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from casedesk_keys.data_keys import Tombstone


class KeysError(Exception):
    """Every error of this package."""


class KeyErased(KeysError):
    """The subject's data key was destroyed at an erasure: its fields can never be read again,
    and no new key is made for it (see Keyring.reopen for the one deliberate exception)."""

    def __init__(self, tombstone: Tombstone) -> None:
        self.tombstone = tombstone
        self.subject = tombstone.subject
        self.erased_at = tombstone.erased_at
        super().__init__(
            f"the key of subject {tombstone.subject} (generation {tombstone.generation}) "
            f"was erased at {tombstone.erased_at.isoformat()}"
        )


class KeyUnavailable(KeysError):
    """The key service, the key store or the HSM cannot be reached or refused to work: the same
    request may succeed later. Never cached, never answered from a stale key."""


class KekNotFound(KeyUnavailable):
    """A wrapped key names a key-encryption key the provider does not hold (retired too early,
    another token, another Secret): nothing can unwrap it until that KEK is back."""


class KeyNotFound(KeysError):
    """The subject (or this generation of its key) never had a key: a field that names it was
    made in another installation, or is not what it claims to be."""


class WrappedKeyDamaged(KeysError):
    """A stored wrapped key failed its integrity check when unwrapped (AES key wrap's check)."""


class FieldUnreadable(KeysError):
    """An encrypted field that does not open: altered, moved to another field or case (its
    associated data differs), or opened with a key it was not sealed with."""


class MalformedField(FieldUnreadable):
    """Not an encrypted field of a format this build knows: wrong prefix or version, truncated,
    not base64url."""


class InvalidIdentifier(KeysError, ValueError):
    """An identifier (SNILS, phone, e-mail, ...) that cannot be normalised. The message names the
    kind of identifier and the rule it broke, never the value."""
