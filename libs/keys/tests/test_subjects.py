"""Subject ids: one per citizen whatever the spelling, none without the index key."""

from __future__ import annotations

import hashlib
import os

import pytest

from casedesk_keys import CitizenIdentity, IdentifierKind, IndexKey, InvalidIdentifier, Subjects
from casedesk_keys.subjects import SubjectId


def test_every_service_with_the_index_key_derives_the_same_subject() -> None:
    secret = os.urandom(32)  # one key, loaded by two services
    first = Subjects(IndexKey(secret)).of(CitizenIdentity(snils="112-233-445 95"))
    again = Subjects(IndexKey(secret)).of(CitizenIdentity(snils="11223344595"))
    assert first == again


def test_another_index_key_gives_another_subject(index_key: IndexKey) -> None:
    identity = CitizenIdentity(snils="11223344595")
    assert Subjects(index_key).of(identity) != Subjects(IndexKey(os.urandom(32))).of(identity)


def test_a_subject_is_not_a_plain_hash_of_the_identifier(index_key: IndexKey) -> None:
    subject = Subjects(index_key).of(CitizenIdentity(snils="11223344595"))
    for spelled in ("11223344595", "snils:11223344595"):
        assert hashlib.sha256(spelled.encode()).digest()[:16] != subject.raw


@pytest.mark.parametrize(
    ("identity", "strongest"),
    [
        (CitizenIdentity(login="Ivanov.II", snils="11223344595", phone="+79123456789"), "login"),
        (CitizenIdentity(snils="11223344595", inn="500100732259", email="a@b.ru"), "snils"),
        (CitizenIdentity(inn="500100732259", email="a@b.ru", phone="+79123456789"), "inn"),
        (CitizenIdentity(email="a@b.ru", phone="+79123456789"), "email"),
        (CitizenIdentity(phone="8 912 345-67-89"), "phone"),
    ],
)
def test_the_strongest_identifier_decides(
    index_key: IndexKey, identity: CitizenIdentity, strongest: str
) -> None:
    subjects = Subjects(index_key)
    kind = IdentifierKind(strongest)
    value = {kind: v for kind, v in identity.identifiers()}[kind]
    assert subjects.of(identity) == subjects.of_identifier(kind, value)


def test_identifiers_of_different_kinds_never_share_a_subject(index_key: IndexKey) -> None:
    subjects = Subjects(index_key)
    assert subjects.of_identifier(IdentifierKind.INN, "5001007322") != subjects.of_identifier(
        IdentifierKind.LOGIN, "5001007322"
    )


def test_an_erasure_finds_a_subject_per_identifier(index_key: IndexKey) -> None:
    subjects = Subjects(index_key)
    identity = CitizenIdentity(login="ivanov.ii", email="Ivan@Почта.рф", phone="+7 912 345 67 89")
    every = subjects.every(identity)
    assert every == [
        subjects.of(CitizenIdentity(login="ivanov.ii")),
        subjects.of(CitizenIdentity(email="ivan@xn--80a1acny.xn--p1ai")),
        subjects.of(CitizenIdentity(phone="89123456789")),
    ]


def test_no_identifier_no_subject(index_key: IndexKey) -> None:
    with pytest.raises(InvalidIdentifier, match="no identifier"):
        Subjects(index_key).of(CitizenIdentity(login="  "))


def test_a_bad_identifier_is_refused_without_echoing_it(index_key: IndexKey) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        Subjects(index_key).of(CitizenIdentity(snils="1122334459"))
    assert "1122334459" not in str(refused.value)


def test_an_identity_shows_which_identifiers_it_has_not_their_values() -> None:
    shown = repr(CitizenIdentity(login="ivanov.ii", phone="+79123456789"))
    assert shown == "CitizenIdentity(login, phone)"


def test_subject_ids_round_trip_as_text(index_key: IndexKey) -> None:
    subject = Subjects(index_key).of(CitizenIdentity(login="ivanov.ii"))
    assert SubjectId.from_text(str(subject)) == subject and len(str(subject)) == 32
    with pytest.raises(ValueError, match="hex digits"):
        SubjectId.from_text("not-hex")


def test_an_index_key_is_32_bytes_of_base64() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        IndexKey.from_base64("c2hvcnQ=")
    with pytest.raises(ValueError, match="base64"):
        IndexKey.from_base64("***")
    assert repr(IndexKey(os.urandom(32))) == "IndexKey(...)"
