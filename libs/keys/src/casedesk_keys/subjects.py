"""Key subjects: the pseudonym a citizen's data key is filed under, the same in every service.

A subject id is an HMAC-SHA256 (truncated to 128 bits) of the citizen's strongest identifier
under a secret index key, never a plain hash: SNILS has only 10^9 values and phone numbers
fewer still, so a plain hash would be reversed by trying them all. Who holds the index key can
link an identifier to its subject; nobody else can, and the subject says nothing by itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from casedesk_keys.errors import InvalidIdentifier
from casedesk_keys.normalise import IdentifierKind, normalise

INDEX_KEY_BYTES = 32
SUBJECT_BYTES = 16  # 128 bits: no collision before 2^64 citizens
# The strongest identifier first: a portal login is verified by the portal's sign-in, SNILS and
# INN are for life, an e-mail or phone may change hands. E-mail before phone as in intake's
# citizen identity, so the subject of a case and of its attachments agree.
PRIORITY = (
    IdentifierKind.LOGIN,
    IdentifierKind.SNILS,
    IdentifierKind.INN,
    IdentifierKind.EMAIL,
    IdentifierKind.PHONE,
)


class IndexKey:
    """The secret behind subject ids and blind indexes; each use gets a key of its own derived
    from it, so a subject id never equals the search term of the identifier it came from."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) != INDEX_KEY_BYTES:
            raise ValueError(f"an index key has {INDEX_KEY_BYTES} bytes")
        self._secret = bytes(secret)

    @classmethod
    def from_base64(cls, encoded: str) -> IndexKey:
        try:
            return cls(base64.b64decode(encoded.strip(), validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(f"an index key is base64 of {INDEX_KEY_BYTES} bytes") from None

    @classmethod
    def from_file(cls, path: Path) -> IndexKey:
        return cls.from_base64(path.read_text())

    def derive(self, purpose: str) -> bytes:
        return hmac.new(self._secret, b"casedesk-keys/" + purpose.encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "IndexKey(...)"


@dataclass(frozen=True, slots=True)
class SubjectId:
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != SUBJECT_BYTES:
            raise ValueError(f"a subject id has {SUBJECT_BYTES} bytes")

    @classmethod
    def from_text(cls, text: str) -> SubjectId:
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise ValueError(f"a subject id is {2 * SUBJECT_BYTES} hex digits") from None

    def __str__(self) -> str:
        return self.raw.hex()


@dataclass(frozen=True, slots=True)
class CitizenIdentity:
    """Whatever a request says about who the citizen is; any field may be empty."""

    login: str = ""
    snils: str = ""
    inn: str = ""
    email: str = ""
    phone: str = ""

    def identifiers(self) -> list[tuple[IdentifierKind, str]]:
        """The non-empty identifiers, normalised, strongest first."""
        return [(kind, normalise(kind, value)) for kind, value in self._given()]

    def _given(self) -> list[tuple[IdentifierKind, str]]:
        values = {
            IdentifierKind.LOGIN: self.login,
            IdentifierKind.SNILS: self.snils,
            IdentifierKind.INN: self.inn,
            IdentifierKind.EMAIL: self.email,
            IdentifierKind.PHONE: self.phone,
        }
        return [(kind, values[kind]) for kind in PRIORITY if values[kind].strip()]

    def __repr__(self) -> str:  # personal data: never in a log line or a traceback
        return f"CitizenIdentity({', '.join(kind.value for kind, _ in self._given())})"


class Subjects:
    """Derives subject ids; every service with the same index key derives the same ones."""

    def __init__(self, index_key: IndexKey) -> None:
        self._key = index_key.derive("subject")

    def of(self, identity: CitizenIdentity) -> SubjectId:
        """The subject of the strongest identifier the identity carries."""
        found = identity.identifiers()
        if not found:
            raise InvalidIdentifier("no identifier: login, SNILS, INN, e-mail or phone needed")
        return self._subject(*found[0])

    def every(self, identity: CitizenIdentity) -> list[SubjectId]:
        """One subject per identifier: what an erasure must destroy, since cases of the same
        citizen may have been filed under any of them."""
        return [self._subject(kind, value) for kind, value in identity.identifiers()]

    def of_identifier(self, kind: IdentifierKind, value: str) -> SubjectId:
        return self._subject(kind, normalise(kind, value))

    def _subject(self, kind: IdentifierKind, normalised: str) -> SubjectId:
        message = f"{kind.value}:{normalised}".encode()
        return SubjectId(hmac.new(self._key, message, hashlib.sha256).digest()[:SUBJECT_BYTES])
