"""Personal fields sealed with the citizen's data key: AES-256-GCM, one token per field.

A token describes itself, so any holder of the right key can open it years later:

    text:   "cdk1." + base64url(binary), unpadded
    binary: version (1 byte, 1) | subject id (16) | key generation (4, big-endian) |
            nonce (12) | ciphertext and GCM tag (16)

The associated data binds the token to its place: the header above and the context (the case
id and the field's name). A token copied into another field or another case does not open
(FieldUnreadable), nor one whose header was edited to name another subject or generation.
The key's rotation does not touch tokens: only the data key's wrapping changes.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from casedesk_keys.data_keys import DataKey
from casedesk_keys.errors import FieldUnreadable, MalformedField
from casedesk_keys.subjects import SUBJECT_BYTES, SubjectId

FORMAT_VERSION = 1
TEXT_PREFIX = "cdk1."
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER = struct.Struct(f">B{SUBJECT_BYTES}sI")
_MIN_BYTES = _HEADER.size + NONCE_BYTES + TAG_BYTES
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_BASE64URL_VALUE = {
    c: n for n, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_SPARE_BITS = {2: 0b1111, 3: 0b11}  # unused low bits of the last character, by length mod 4
_LENGTH = struct.Struct(">I")
_AAD_LABEL = b"casedesk-keys/field"
_AAD_START = _LENGTH.pack(len(_AAD_LABEL)) + _AAD_LABEL + _LENGTH.pack(_HEADER.size)


@dataclass(frozen=True, slots=True)
class FieldContext:
    """Where a field lives: the case it belongs to and its name (e.g. "citizen.snils",
    "comment/3f2a.../text"). Records that are not a case's use their own id as `case_id`."""

    case_id: str
    field: str

    def __post_init__(self) -> None:
        if not self.case_id or not self.field:
            raise ValueError("a field context needs a case id and a field name")


@dataclass(frozen=True, slots=True)
class FieldHeader:
    """What a token says about itself, readable without a key: whose key opens it."""

    subject: SubjectId
    generation: int


def encrypt_field(key: DataKey, plaintext: str, context: FieldContext) -> str:
    return TEXT_PREFIX + _b64encode(seal(key, plaintext.encode(), context))


def decrypt_field(key: DataKey, token: str, context: FieldContext) -> str:
    return unseal(key, token_bytes(token), context).decode()


def token_bytes(token: str) -> bytes:
    """The binary form of a text token; MalformedField if it is not one."""
    return _b64decode(token)


def seal(key: DataKey, plaintext: bytes, context: FieldContext) -> bytes:
    """The binary token, for bytes fields of protobuf messages."""
    header = _HEADER.pack(FORMAT_VERSION, key.subject.raw, key.generation)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + key.aead.encrypt(nonce, plaintext, _associated(header, context))


def unseal(key: DataKey, token: bytes, context: FieldContext) -> bytes:
    found = header_of(token)
    if (found.subject, found.generation) != (key.subject, key.generation):
        raise FieldUnreadable(
            f"sealed with generation {found.generation} of subject {found.subject}, not with "
            f"generation {key.generation} of subject {key.subject}"
        )
    header = token[: _HEADER.size]
    nonce = token[_HEADER.size : _HEADER.size + NONCE_BYTES]
    sealed = token[_HEADER.size + NONCE_BYTES :]
    try:
        return key.aead.decrypt(nonce, sealed, _associated(header, context))
    except InvalidTag:
        raise FieldUnreadable(
            f"field {context.field!r} of case {context.case_id!r} failed its check: altered, "
            "or sealed for another field or case"
        ) from None


def header_of(token: bytes | str) -> FieldHeader:
    """Whose key a token needs (text or binary form); MalformedField if it is not a token."""
    data = _b64decode(token) if isinstance(token, str) else token
    if len(data) < _MIN_BYTES:
        raise MalformedField(f"an encrypted field has at least {_MIN_BYTES} bytes")
    version, subject, generation = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise MalformedField(f"encrypted field format {version} is unknown to this build")
    if generation < 1:
        raise MalformedField("key generations start at 1")
    return FieldHeader(SubjectId(subject), generation)


def is_encrypted(value: str) -> bool:
    """Whether a text field holds a token (rather than clear text written before encryption)."""
    return value.startswith(TEXT_PREFIX)


def _associated(header: bytes, context: FieldContext) -> bytes:
    """Label, header, case id and field name, each after its length: no two contexts give the
    same bytes however their parts are split."""
    case_id, field = context.case_id.encode(), context.field.encode()
    return b"".join(
        (_AAD_START, header, _LENGTH.pack(len(case_id)), case_id, _LENGTH.pack(len(field)), field)
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(token: str) -> bytes:
    if not token.startswith(TEXT_PREFIX):
        raise MalformedField(f"an encrypted field starts with {TEXT_PREFIX!r}")
    body = token[len(TEXT_PREFIX) :]
    spare = len(body) % 4
    if spare == 1 or not body.isascii() or "+" in body or "/" in body or "=" in body:
        raise MalformedField("an encrypted field is base64url after its prefix")
    padded = body.encode().translate(_TO_STANDARD) + b"=" * (-spare % 4)
    try:
        data = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        raise MalformedField("an encrypted field is base64url after its prefix") from None
    # The last character's unused low bits set: the same bytes, but not the text encrypt_field
    # wrote (and the only alteration the authentication tag cannot see).
    if spare and _BASE64URL_VALUE[body[-1]] & _SPARE_BITS[spare]:
        raise MalformedField("an encrypted field is base64url after its prefix")
    return data
