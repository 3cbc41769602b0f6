"""Checks of the citizen identifiers frontends send: SNILS, INN, phone numbers, e-mail addresses.

Each check returns the normalised value or raises `IdentifierError` with a description that names
the rule broken and never repeats the value (it is personal data and ends up in error details).
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-()]")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
# RFC 5321 limits; the syntax is the practical subset mail servers accept (dot-atom local part),
# with Unicode letters allowed in the domain for Cyrillic domains such as почта.рф.
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_EMAIL_LABEL = re.compile(r"^[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?$")
_SNILS_WEIGHTS = range(9, 0, -1)
_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11_WEIGHTS = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
# SNILS numbers up to this one were issued before the checksum was introduced.
_SNILS_CHECKSUM_FROM = 1_001_998


class IdentifierError(ValueError):
    """The value breaks the named rule; the message is safe to show and to log."""


def _digits_only(value: str, what: str) -> str:
    compact = _SEPARATORS.sub("", value)
    if not compact.isascii() or not compact.isdigit():
        raise IdentifierError(f"{what} must contain digits only")
    return compact


def snils_control(number: str) -> int:
    """The control number of the 9-digit SNILS body: sum of digit x weight (9..1), then 100/101 -> 0
    and sums above 101 reduced modulo 101."""
    total = sum(int(digit) * weight for digit, weight in zip(number, _SNILS_WEIGHTS, strict=True))
    if total > 101:
        total %= 101
    return 0 if total in (100, 101) else total


def normalize_snils(value: str) -> str:
    """11 digits (separators `123-456-789 01` allowed) whose last two are the control number."""
    digits = _digits_only(value, "SNILS")
    if len(digits) != 11:
        raise IdentifierError("SNILS must have 11 digits")
    body, control = digits[:9], int(digits[9:])
    if int(body) > _SNILS_CHECKSUM_FROM and snils_control(body) != control:
        raise IdentifierError("SNILS control number does not match")
    return digits


def _inn_check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def normalize_inn(value: str) -> str:
    """10 digits (legal entity) or 12 digits (individual) with valid weighted check digits."""
    digits = _digits_only(value, "INN")
    if len(digits) == 10:
        valid = _inn_check_digit(digits, _INN10_WEIGHTS) == int(digits[9])
    elif len(digits) == 12:
        valid = _inn_check_digit(digits, _INN11_WEIGHTS) == int(digits[10]) and (
            _inn_check_digit(digits, _INN12_WEIGHTS) == int(digits[11])
        )
    else:
        raise IdentifierError("INN must have 10 digits (organisation) or 12 digits (individual)")
    if not valid:
        raise IdentifierError("INN check digits do not match")
    return digits


def normalize_phone(value: str) -> str:
    """E.164: `+`, country code and subscriber number, 8 to 15 digits; spaces, hyphens and
    parentheses are dropped first, so `+7 (912) 345-67-89` is accepted as `+79123456789`."""
    compact = _SEPARATORS.sub("", value)
    if not _E164.fullmatch(compact):
        raise IdentifierError("phone must be in E.164 form: + country code and number, 8-15 digits")
    return compact


def is_russian_phone(e164: str) -> bool:
    """+7 is shared with Kazakhstan, whose numbers continue with 6 or 7."""
    return e164.startswith("+7") and e164[2:3] not in ("6", "7")


def normalize_email(value: str) -> str:
    """A mailbox address `local@domain`; the domain is lower-cased, the local part kept as is."""
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise IdentifierError("e-mail must look like name@domain")
    if len(address) > 254 or len(local) > 64:
        raise IdentifierError("e-mail is too long (at most 64 characters before @, 254 in all)")
    if not _EMAIL_LOCAL.fullmatch(local):
        raise IdentifierError("e-mail has characters that are not allowed before @")
    labels = domain.rstrip(".").split(".")
    if len(labels) < 2 or not all(_EMAIL_LABEL.fullmatch(label) for label in labels):
        raise IdentifierError("e-mail domain is not a valid domain name")
    if labels[-1].isdigit():
        raise IdentifierError("e-mail domain must end with a top-level domain, not a number")
    return f"{local}@{domain.rstrip('.').lower()}"
