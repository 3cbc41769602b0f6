"""The encrypted field format: round trips, and every way a token can fail to open."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk_keys import (
    DataKey,
    FieldContext,
    FieldUnreadable,
    MalformedField,
    SubjectId,
    decrypt_field,
    encrypt_field,
    header_of,
    is_encrypted,
    seal,
    unseal,
)
from casedesk_keys.fields import TEXT_PREFIX

SUBJECT = SubjectId(bytes(range(16)))
KEY = DataKey(SUBJECT, 1, bytes(range(32)))
CONTEXT = FieldContext("case-2026-0001234", "citizen.snils")


def _raw(token: str) -> bytes:
    body = token.removeprefix(TEXT_PREFIX)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _text(raw: bytes) -> str:
    return TEXT_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_field_opens_with_its_key_and_context() -> None:
    token = encrypt_field(KEY, "112-233-445 95", CONTEXT)
    assert is_encrypted(token) and "112" not in token
    assert decrypt_field(KEY, token, CONTEXT) == "112-233-445 95"


def test_the_same_text_twice_gives_different_tokens() -> None:
    assert encrypt_field(KEY, "Иванов", CONTEXT) != encrypt_field(KEY, "Иванов", CONTEXT)


def test_a_token_names_the_key_that_opens_it() -> None:
    key = DataKey(SUBJECT, 7, os.urandom(32))
    header = header_of(encrypt_field(key, "x", CONTEXT))
    assert (header.subject, header.generation) == (SUBJECT, 7)


@given(st.text(), st.text(min_size=1), st.text(min_size=1))
def test_any_text_round_trips(text: str, case_id: str, field: str) -> None:
    context = FieldContext(case_id, field)
    assert decrypt_field(KEY, encrypt_field(KEY, text, context), context) == text


@pytest.mark.parametrize(
    "other",
    [
        FieldContext("case-2026-0001235", "citizen.snils"),  # another case
        FieldContext("case-2026-0001234", "citizen.inn"),  # another field
        FieldContext("case-2026-000123", "4citizen.snils"),  # the same bytes, split elsewhere
    ],
)
def test_a_token_moved_to_another_field_or_case_does_not_open(other: FieldContext) -> None:
    token = encrypt_field(KEY, "112-233-445 95", CONTEXT)
    with pytest.raises(FieldUnreadable, match="failed its check"):
        decrypt_field(KEY, token, other)


@given(st.data())
def test_any_altered_byte_is_detected(data: st.DataObject) -> None:
    raw = bytearray(_raw(encrypt_field(KEY, "ivan@почта.рф", CONTEXT)))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(FieldUnreadable):
        decrypt_field(KEY, _text(bytes(raw)), CONTEXT)


def test_a_header_edited_to_name_another_generation_does_not_open() -> None:
    """Opening with the key the edited header names still fails: the header is authenticated."""
    other = DataKey(SUBJECT, 2, KEY.secret())
    raw = bytearray(seal(KEY, b"secret", CONTEXT))
    raw[17:21] = (2).to_bytes(4, "big")
    with pytest.raises(FieldUnreadable, match="failed its check"):
        unseal(other, bytes(raw), CONTEXT)


def test_a_wrong_key_is_named_in_the_error() -> None:
    token = encrypt_field(KEY, "x", CONTEXT)
    stranger = DataKey(SubjectId(os.urandom(16)), 1, os.urandom(32))
    with pytest.raises(FieldUnreadable, match="not with generation 1 of subject"):
        decrypt_field(stranger, token, CONTEXT)


def test_the_same_subject_and_generation_with_other_key_bytes_does_not_open() -> None:
    token = encrypt_field(KEY, "x", CONTEXT)
    with pytest.raises(FieldUnreadable):
        decrypt_field(DataKey(SUBJECT, 1, os.urandom(32)), token, CONTEXT)


@pytest.mark.parametrize("cut", [1, 16, 17, 40])
def test_a_truncated_token_is_malformed_or_fails_its_check(cut: int) -> None:
    token = encrypt_field(KEY, "Иванов Иван", CONTEXT)
    raw = _raw(token)
    with pytest.raises(FieldUnreadable):
        decrypt_field(KEY, _text(raw[:-cut]), CONTEXT)
    with pytest.raises(MalformedField, match="at least"):
        header_of(raw[:32])


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("Иванов", "starts with"),
        ("cdk2.AAAA", "starts with"),
        ("cdk1.***", "base64url"),
        ("cdk1.AAAAA", "base64url"),  # a length no encoding has
        ("cdk1.", "at least"),
    ],
)
def test_what_is_not_a_token_is_malformed(token: str, message: str) -> None:
    with pytest.raises(MalformedField, match=message):
        decrypt_field(KEY, token, CONTEXT)


def test_a_non_canonical_base64_spelling_is_malformed() -> None:
    """The unused low bits of the last character changed: same bytes, another text. Refused, so
    no two texts of one token exist."""
    token = encrypt_field(KEY, "x", CONTEXT)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    spare_bits = {2: 0b1111, 3: 0b11}[len(token.removeprefix(TEXT_PREFIX)) % 4]
    altered = token[:-1] + alphabet[last ^ (spare_bits & 1)]
    assert _raw(altered) == _raw(token)
    with pytest.raises(MalformedField):
        decrypt_field(KEY, altered, CONTEXT)


def test_an_unknown_format_version_is_malformed() -> None:
    raw = bytearray(seal(KEY, b"x", CONTEXT))
    raw[0] = 2
    with pytest.raises(MalformedField, match="format 2 is unknown"):
        unseal(KEY, bytes(raw), CONTEXT)


def test_a_context_needs_a_case_and_a_field() -> None:
    with pytest.raises(ValueError, match="case id and a field name"):
        FieldContext("", "citizen.name")


def test_a_data_key_never_shows_its_secret() -> None:
    secret = bytes(range(32))
    assert secret.hex() not in repr(KEY) and str(secret) not in repr(KEY)
