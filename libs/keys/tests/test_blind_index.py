"""Normalisation and search terms: one term per identifier however it is typed."""

from __future__ import annotations

import os

import pytest

from casedesk_keys import BlindIndex, IdentifierKind, IndexKey, InvalidIdentifier
from casedesk_keys import normalise as n


@pytest.mark.parametrize(
    "typed",
    [
        "11223344595",
        "112-233-445 95",
        " 112 233 445 95 ",
        "112.233.445-95",
        "１１２２３３４４５９５",
    ],
)
def test_snils_is_its_digits(typed: str) -> None:
    assert n.snils(typed) == "11223344595"


@pytest.mark.parametrize(
    "typed",
    [
        "+79123456789",
        "+7.912.345.67.89",
        "+7 (912) 345-67-89",
        "8 912 345 67 89",
        "89123456789",
        "79123456789",
        "9123456789",
        "007 912 3456789",
        "+7–912–345–67–89",  # en dashes
    ],
)
def test_phones_in_any_spelling_are_one_e164_number(typed: str) -> None:
    assert n.phone(typed) == "+79123456789"


def test_foreign_numbers_keep_their_country_code() -> None:
    assert n.phone("+49 30 901820") == "+4930901820"
    assert n.phone("0044 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Ivan@Example.RU", "ivan@example.ru"),
        ("ivan@почта.рф", "ivan@xn--80a1acny.xn--p1ai"),
        ("Иван@ПОЧТА.РФ", "иван@xn--80a1acny.xn--p1ai"),
        (" ivan@xn--80a1acny.xn--p1ai. ", "ivan@xn--80a1acny.xn--p1ai"),
        ('"a@b"@example.ru', '"a@b"@example.ru'),
    ],
)
def test_emails_are_case_folded_with_an_idna_domain(typed: str, expected: str) -> None:
    assert n.email(typed) == expected


@pytest.mark.parametrize(
    ("kind", "typed", "rule"),
    [
        (IdentifierKind.SNILS, "1122334459", "11 digits"),
        (IdentifierKind.SNILS, "СНИЛС11223344595", "digits and separators"),
        (IdentifierKind.INN, "50010073225", "10 or 12 digits"),
        (IdentifierKind.PHONE, "12345", "international"),
        (IdentifierKind.PHONE, "+7912345678901234", "8 to 15 digits"),
        (IdentifierKind.PHONE, "+0123456789", "never starts with 0"),
        (IdentifierKind.PHONE, "+7 912 ABC", "8 to 15 digits"),
        (IdentifierKind.EMAIL, "ivan.example.ru", "local@domain"),
        (IdentifierKind.EMAIL, "ivan@localhost", "no dot"),
        (IdentifierKind.EMAIL, "iv an@example.ru", "local@domain"),
        (IdentifierKind.EMAIL, "ivan@exa..mple.ru", "not a valid domain"),
        (IdentifierKind.LOGIN, "  ", "empty"),
    ],
)
def test_what_cannot_be_normalised_is_refused_by_rule_not_value(
    kind: IdentifierKind, typed: str, rule: str
) -> None:
    with pytest.raises(InvalidIdentifier, match=rule) as refused:
        n.normalise(kind, typed)
    assert not typed.strip() or typed.strip() not in str(refused.value)


def test_terms_match_across_spellings_and_differ_across_kinds(index_key: IndexKey) -> None:
    index = BlindIndex(index_key)
    assert index.phone("+7.912.345.67.89") == index.phone("8 (912) 345-67-89")
    assert index.email("Ivan@Почта.РФ") == index.email("ivan@xn--80a1acny.xn--p1ai")
    assert index.snils("112-233-445 95") == index.snils("11223344595")
    assert index.inn("5001 0073 2259") == index.inn("500100732259")
    assert index.term(IdentifierKind.INN, "5001007322") != index.term(
        IdentifierKind.LOGIN, "5001007322"
    )


def test_terms_need_the_index_key_and_are_not_subject_ids(index_key: IndexKey) -> None:
    from casedesk_keys import CitizenIdentity, Subjects

    term = BlindIndex(index_key).snils("11223344595")
    assert term != BlindIndex(IndexKey(os.urandom(32))).snils("11223344595")
    assert term != str(Subjects(index_key).of(CitizenIdentity(snils="11223344595")))
    assert len(term) == 32 and "11223344595" not in term
