"""Erasing a citizen on real adapters: every identifier's subject loses its keys, each erasure is
journaled once and announced once, and no key is ever made for an erased subject."""

from __future__ import annotations

import os

import pytest

from casedesk_keys import (
    CitizenIdentity,
    IdentifierKind,
    KeyErased,
    Keyring,
    SubjectId,
    Subjects,
)
from casedesk_keyservice.adapters.sqlite_journal import SqliteErasureJournal
from casedesk_keyservice.application import Erasures
from casedesk_keyservice.domain import PRIVACY_OFFICER, Eraser, ErasureOrder, InvalidOrder, Person

OFFICER = Eraser("operator", Person("p.orlova", frozenset({PRIVACY_OFFICER})))
IVANOV = CitizenIdentity(
    login="Ivanov.II", snils="112-233-445 95", email="Иван@Почта.РФ", phone="8 912 345-67-89"
)


@pytest.fixture
def announced() -> list[int]:
    return []


@pytest.fixture
def erasures(
    keyring: Keyring, subjects: Subjects, journal: SqliteErasureJournal, announced: list[int]
) -> Erasures:
    return Erasures(keyring, subjects, journal, announce=lambda: announced.append(1))


async def test_every_identifier_of_the_citizen_loses_its_key(
    erasures: Erasures, keyring: Keyring, subjects: Subjects, announced: list[int]
) -> None:
    by_login = keyring.current_key(subjects.of(CitizenIdentity(login="ivanov.ii")))
    by_phone = keyring.current_key(subjects.of(CitizenIdentity(phone="+79123456789")))
    other = keyring.current_key(subjects.of(CitizenIdentity(login="petrova.aa")))

    outcomes = await erasures.erase(ErasureOrder(IVANOV, (), "ПД-2026-17"), OFFICER)

    assert [o.derived_from for o in outcomes] == ["login", "snils", "email", "phone"]
    assert [o.record.subject for o in outcomes] == subjects.every(IVANOV)
    assert [o.record.position for o in outcomes] == [1, 2, 3, 4]
    assert {(o.record.erased_by, o.record.caller, o.record.reason) for o in outcomes} == {
        ("p.orlova", "operator", "ПД-2026-17")
    }
    assert not any(o.already_erased for o in outcomes)
    assert len(announced) == 4
    for key in (by_login, by_phone):
        with pytest.raises(KeyErased):
            keyring.key(key.subject, key.generation)
    assert keyring.key(other.subject, 1) == other


async def test_a_subject_without_a_key_gets_a_tombstone_so_none_is_made_later(
    erasures: Erasures, keyring: Keyring
) -> None:
    never_seen = SubjectId(os.urandom(16))
    order = ErasureOrder(CitizenIdentity(), (never_seen,), "retention:closed-3y")
    (outcome,) = await erasures.erase(order, Eraser("case"))
    assert (outcome.derived_from, outcome.record.erased_by) == ("subject", "system:case")
    with pytest.raises(KeyErased) as erased:
        keyring.current_key(never_seen)
    assert erased.value.erased_at == outcome.record.erased_at


async def test_erasing_again_keeps_the_first_erasure_and_announces_nothing(
    erasures: Erasures, keyring: Keyring, subjects: Subjects, announced: list[int]
) -> None:
    identity = CitizenIdentity(snils="11223344595")
    keyring.current_key(subjects.of(identity))
    (first,) = await erasures.erase(ErasureOrder(identity, (), "ПД-1"), OFFICER)
    second_officer = Eraser("case", Person("k.belova", frozenset({PRIVACY_OFFICER})))
    (again,) = await erasures.erase(ErasureOrder(identity, (), "ПД-2"), second_officer)
    assert again.already_erased
    assert again.record == first.record  # who, when, why of the first order
    assert len(announced) == 1


async def test_one_subject_named_twice_is_erased_once(
    erasures: Erasures, subjects: Subjects
) -> None:
    identity = CitizenIdentity(snils="112 233 445 95")
    named = subjects.of_identifier(IdentifierKind.SNILS, "11223344595")
    outcomes = await erasures.erase(ErasureOrder(identity, (named,), "ПД-3"), OFFICER)
    assert [(o.derived_from, o.record.subject) for o in outcomes] == [("snils", named)]


async def test_a_bad_identifier_is_named_and_nothing_is_erased(
    erasures: Erasures, keyring: Keyring, subjects: Subjects, journal: SqliteErasureJournal
) -> None:
    key = keyring.current_key(subjects.of(CitizenIdentity(login="ivanov.ii")))
    order = ErasureOrder(CitizenIdentity(login="ivanov.ii", snils="112-233"), (), "ПД-4")
    with pytest.raises(InvalidOrder) as refused:
        await erasures.erase(order, OFFICER)
    assert (refused.value.field, refused.value.problem) == ("identifiers.snils", "snils: 11 digits")
    assert keyring.key(key.subject, 1) == key
    assert journal.head() == 0
