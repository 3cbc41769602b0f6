"""Identifiers in one canonical spelling, so that every service derives the same subject and the
same search term from what citizens type in many ways.

Errors name the kind of identifier and the rule, never the value (it is personal data).
"""

from __future__ import annotations

import enum
import re
import unicodedata

from casedesk_keys.errors import InvalidIdentifier


class IdentifierKind(enum.Enum):
    LOGIN = "login"
    SNILS = "snils"
    INN = "inn"
    PHONE = "phone"
    EMAIL = "email"


# Separators people put between digit groups: spaces, dashes, dots, slashes, brackets.
_SEPARATORS = re.compile(r"[\s\-./()\u2010-\u2015\u2212]+")
_E164_DIGITS = (8, 15)  # the shortest real numbers have 8 digits with the country code


def login(value: str) -> str:
    """Portal logins compare without case and in Unicode compatibility form."""
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    if not text:
        raise InvalidIdentifier("login: empty")
    return text


def snils(value: str) -> str:
    """11 digits ("123-456-789 01" -> "12345678901"); the checksum is the case's to verify."""
    return _digits("snils", value, (11,))


def inn(value: str) -> str:
    """10 digits (an organisation) or 12 (a person)."""
    return _digits("inn", value, (10, 12))


def phone(value: str) -> str:
    """E.164: "+" and 8-15 digits. Russian national spellings are taken as Russia's:
    "8 912 345-67-89" and "7 912 ..." are +7912..., and ten digits starting with 9 a Russian
    mobile; "00" is the international prefix."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value).strip())
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif len(text) == 11 and text[0] in "78":
        digits = "7" + text[1:]
    elif len(text) == 10 and text.startswith("9"):
        digits = "7" + text
    else:
        raise InvalidIdentifier("phone: not an international (+...) or Russian number")
    low, high = _E164_DIGITS
    if not (digits.isascii() and digits.isdigit()) or not low <= len(digits) <= high:
        raise InvalidIdentifier(f"phone: E.164 needs {low} to {high} digits after '+'")
    if digits.startswith("0"):
        raise InvalidIdentifier("phone: a country code never starts with 0")
    return "+" + digits


def email(value: str) -> str:
    """The local part case-folded (NFC), the domain as IDNA ASCII ("Иван@Почта.РФ" ->
    "иван@xn--80a1acny.xn--p1ai"): one spelling for the many an address is typed in."""
    text = unicodedata.normalize("NFC", value).strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in text):
        raise InvalidIdentifier("email: not of the form local@domain")
    domain = domain.rstrip(".")
    if "." not in domain:
        raise InvalidIdentifier("email: the domain has no dot")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidIdentifier("email: the domain is not a valid domain name") from None
    return f"{local.casefold()}@{ascii_domain}"


NORMALISERS = {
    IdentifierKind.LOGIN: login,
    IdentifierKind.SNILS: snils,
    IdentifierKind.INN: inn,
    IdentifierKind.PHONE: phone,
    IdentifierKind.EMAIL: email,
}


def normalise(kind: IdentifierKind, value: str) -> str:
    return NORMALISERS[kind](value)


def _digits(kind: str, value: str, lengths: tuple[int, ...]) -> str:
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value).strip())
    if not (text.isascii() and text.isdigit()):
        raise InvalidIdentifier(f"{kind}: digits and separators only")
    if len(text) not in lengths:
        allowed = " or ".join(str(n) for n in lengths)
        raise InvalidIdentifier(f"{kind}: {allowed} digits")
    return text
