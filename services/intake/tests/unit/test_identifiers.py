"""SNILS, INN, phone and e-mail rules, table-driven: valid and invalid values of each."""

from __future__ import annotations

import pytest

from casedesk_intake.domain.identifiers import (
    IdentifierError,
    is_russian_phone,
    normalize_email,
    normalize_inn,
    normalize_phone,
    normalize_snils,
    snils_control,
)

VALID_SNILS = [
    ("11223344595", "11223344595", "plain 11 digits, sum 95 below 100"),
    ("112-233-445 95", "11223344595", "written with separators"),
    ("112-233-445-95", "11223344595", "hyphen before the control number"),
    ("00150881500", "00150881500", "sum exactly 100: control 00"),
    ("00143754400", "00143754400", "sum exactly 101: control 00"),
    ("00116829806", "00116829806", "sum 107 above 101: reduced modulo 101 to 6"),
    ("00699668200", "00699668200", "sum 201: modulo 101 gives 100, control 00"),
    ("00100199899", "00100199899", "up to 001-001-998 numbers predate the checksum"),
]
INVALID_SNILS = [
    ("11223344596", "control number does not match"),
    ("00150881501", "control number does not match"),  # sum 100 must give 00, not 01
    ("00143754401", "control number does not match"),  # sum 101 must give 00
    ("00116829807", "control number does not match"),
    ("1122334459", "11 digits"),
    ("112233445950", "11 digits"),
    ("1122334459a", "digits only"),
    ("１１２２３３４４５９５", "digits only"),  # full-width digits are not ASCII
    ("", "digits only"),
]
VALID_INN = [
    ("7707083893", "10 digits, an organisation"),
    ("500100732259", "12 digits, an individual"),
    ("5001 0073 2259", "spaces are dropped"),
    ("000000000000", "all zeros has zero check digits"),
]
INVALID_INN = [
    ("7707083894", "check digits do not match"),
    ("500100732258", "check digits do not match"),  # 12th digit wrong
    ("500100732269", "check digits do not match"),  # 11th digit wrong
    ("77070838931", "10 digits"),
    ("770708389", "10 digits"),
    ("77070838X3", "digits only"),
]
VALID_PHONES = [
    ("+79123456789", "+79123456789"),
    ("+7 (912) 345-67-89", "+79123456789"),
    ("+4915123456789", "+4915123456789"),
    ("+12025550123", "+12025550123"),
]
INVALID_PHONES = ["89123456789", "+0123456789", "+7912", "+7912345678901234", "+7912abc6789", ""]
VALID_EMAILS = [
    ("ivanov@example.ru", "ivanov@example.ru"),
    ("Ivan.Ivanov+support@Mail.Example.RU", "Ivan.Ivanov+support@mail.example.ru"),
    ("user@почта.рф", "user@почта.рф"),
    ("o'brien@example.com", "o'brien@example.com"),
]
INVALID_EMAILS = [
    "ivanov",
    "ivanov@",
    "@example.ru",
    "iva nov@example.ru",
    "ivanov@example",
    "ivanov@-example.ru",
    "ivanov..petrov@example.ru",
    "ivanov@example.123",
    "a" * 65 + "@example.ru",
]


@pytest.mark.parametrize(("raw", "normalised", "why"), VALID_SNILS)
def test_valid_snils_is_normalised(raw: str, normalised: str, why: str) -> None:
    assert normalize_snils(raw) == normalised, why


@pytest.mark.parametrize(("raw", "rule"), INVALID_SNILS)
def test_invalid_snils_names_the_rule_without_the_value(raw: str, rule: str) -> None:
    with pytest.raises(IdentifierError, match=rule) as refused:
        normalize_snils(raw)
    assert not raw or raw not in str(refused.value)


def test_snils_control_reduces_large_sums_modulo_101() -> None:
    assert snils_control("001168298") == 107 % 101
    assert snils_control("112233445") == 95


@pytest.mark.parametrize(("raw", "why"), VALID_INN)
def test_valid_inn(raw: str, why: str) -> None:
    assert normalize_inn(raw) == raw.replace(" ", ""), why


@pytest.mark.parametrize(("raw", "rule"), INVALID_INN)
def test_invalid_inn_names_the_rule_without_the_value(raw: str, rule: str) -> None:
    with pytest.raises(IdentifierError, match=rule) as refused:
        normalize_inn(raw)
    assert raw not in str(refused.value)


@pytest.mark.parametrize(("raw", "normalised"), VALID_PHONES)
def test_valid_phone_is_e164(raw: str, normalised: str) -> None:
    assert normalize_phone(raw) == normalised


@pytest.mark.parametrize("raw", INVALID_PHONES)
def test_invalid_phone(raw: str) -> None:
    with pytest.raises(IdentifierError, match=r"E\.164"):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("number", "russian"),
    [
        ("+79123456789", True),
        ("+74957777777", True),
        ("+77012345678", False),
        ("+4930123456", False),
    ],
)
def test_russian_numbers_exclude_kazakhstan(number: str, russian: bool) -> None:
    assert is_russian_phone(number) is russian


@pytest.mark.parametrize(("raw", "normalised"), VALID_EMAILS)
def test_valid_email(raw: str, normalised: str) -> None:
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize("raw", INVALID_EMAILS)
def test_invalid_email_never_echoes_the_address(raw: str) -> None:
    with pytest.raises(IdentifierError) as refused:
        normalize_email(raw)
    assert raw not in str(refused.value)
