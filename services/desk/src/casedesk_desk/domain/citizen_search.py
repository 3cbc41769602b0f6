"""Finding a citizen's cases by his SNILS, phone or e-mail: the kind of identifier (chosen, or told
from the value), and the case service's refusal of a value in Russian.

The case service normalises the value and finds the cases through keyed hashes (its README,
"Search without plaintext"): the desk does not validate the identifier beyond telling its kind, so
that one set of rules decides what is a SNILS. The value is personal data: it is never put in a
log line, a URL or a repr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from casedesk_desk.domain.errors import RefusalKind, Refused


class CitizenIdKind(Enum):
    SNILS = "SNILS"
    PHONE = "PHONE"
    EMAIL = "EMAIL"


KIND_LABELS = {
    CitizenIdKind.SNILS: "СНИЛС",
    CitizenIdKind.PHONE: "Телефон",
    CitizenIdKind.EMAIL: "Электронная почта",
}
AUTO = "AUTO"  # the form's «Определить по значению»
KIND_CHOICES = {AUTO: "Определить по значению", **{k.value: v for k, v in KIND_LABELS.items()}}
# The longest e-mail address there is (RFC 5321 path); anything longer is no identifier.
MAX_VALUE = 254

# Separators people put between digit groups (casedesk_keys' normalisation takes the same).
_SEPARATORS = re.compile(r"[\s\-./()\u2010-\u2015\u2212]+")
# A SNILS as it is printed: 123-456-789 01.
_SNILS_GROUPS = [3, 3, 3, 2]
# Below this number SNILS have no check digits (Pension Fund's rule).
_SNILS_CHECKED_FROM = 1_001_998


@dataclass(frozen=True)
class CitizenLookup:
    kind: CitizenIdKind
    value: str = field(repr=False)  # personal data: never in a repr, hence never in a log line


def lookup(kind_choice: str, value: str) -> CitizenLookup:
    """The lookup the form asks for; Refused (INVALID) in Russian when it cannot be made."""
    value = value.strip()
    if not value:
        raise Refused(RefusalKind.INVALID, "Введите СНИЛС, телефон или адрес электронной почты.")
    if len(value) > MAX_VALUE:
        raise Refused(RefusalKind.INVALID, f"Слишком длинное значение: до {MAX_VALUE} знаков.")
    if kind_choice in ("", AUTO):
        kind = detect_kind(value)
        if kind is None:
            raise Refused(
                RefusalKind.INVALID,
                "Не удалось понять по значению, что это: выберите вид — СНИЛС, телефон или "
                "электронная почта.",
            )
        return CitizenLookup(kind, value)
    try:
        return CitizenLookup(CitizenIdKind(kind_choice), value)
    except ValueError:
        raise Refused(RefusalKind.INVALID, "Неизвестный вид данных для поиска.") from None


def detect_kind(value: str) -> CitizenIdKind | None:
    """What the value looks like; None when it could be either a SNILS or a phone (eleven digits
    from 7 or 8 that also pass the SNILS check) or neither."""
    text = value.strip()
    if "@" in text:
        return CitizenIdKind.EMAIL
    if text.startswith("+") or "(" in text:
        return CitizenIdKind.PHONE
    groups = [g for g in _SEPARATORS.split(text) if g]
    if not groups or not all(g.isascii() and g.isdigit() for g in groups):
        return None
    digits = "".join(groups)
    if [len(g) for g in groups] == _SNILS_GROUPS:
        return CitizenIdKind.SNILS
    if len(digits) == 11 and digits[0] not in "78":
        return CitizenIdKind.SNILS  # no Russian phone begins so
    if digits.startswith("00") or (len(digits) == 10 and digits[0] == "9"):
        return CitizenIdKind.PHONE  # the international prefix; a mobile without the 8
    if len(digits) == 11:
        return None if snils_checks(digits) else CitizenIdKind.PHONE
    return None


def snils_checks(digits: str) -> bool:
    """Whether eleven digits pass the SNILS check digits."""
    number = int(digits[:9])
    if number <= _SNILS_CHECKED_FROM:
        return True
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    check = total % 101 if total > 101 else total
    return (0 if check in (100, 101) else check) == int(digits[9:])


# The case service's rules (casedesk_keys' normalisation, "kind: rule"), in Russian.
_RULES = {
    "snils: digits and separators only": "СНИЛС: только цифры и разделители (пробел, дефис).",
    "snils: 11 digits": "СНИЛС: нужно 11 цифр, например 112-233-445 95.",
    "phone: not an international (+...) or Russian number": (
        "Телефон: нужен номер в международном виде (+…) или российский, например 8 (912) 345-67-89."
    ),
    "phone: E.164 needs 8 to 15 digits after '+'": "Телефон: после «+» нужно от 8 до 15 цифр.",
    "phone: a country code never starts with 0": "Телефон: код страны не начинается с 0.",
    "email: not of the form local@domain": (
        "Электронная почта: нужен адрес вида имя@домен, без пробелов."
    ),
    "email: the domain has no dot": "Электронная почта: в домене нет точки.",
    "email: the domain is not a valid domain name": (
        "Электронная почта: домен не является допустимым именем."
    ),
    "is required": "Введите СНИЛС, телефон или адрес электронной почты.",
}
FIELD_PREFIX = "citizen."


def lookup_refusal(refusal: Refused, kind: CitizenIdKind) -> Refused:
    """The case service's INVALID_ARGUMENT on the lookup (`citizen.value: snils: 11 digits`) as
    the specialist reads it; its words name the rule, never the value, so they may be shown.
    Without an index key in the case service (FAILED_PRECONDITION) the search is not set up."""
    if refusal.kind is RefusalKind.CONFLICT:
        return Refused(
            RefusalKind.CONFLICT,
            "Поиск по СНИЛС, телефону и электронной почте не настроен в службе обращений "
            "(нет ключа поискового индекса). Сообщите администратору.",
            refusal.detail,
        )
    if refusal.kind is not RefusalKind.INVALID:
        return refusal
    field_name, _, rule = refusal.detail.partition(": ")
    if not field_name.startswith(FIELD_PREFIX):
        return Refused(
            RefusalKind.INVALID,
            f"Служба обращений не приняла запрос. Ответ службы обращений: «{refusal.detail}».",
            refusal.detail,
        )
    words = _RULES.get(rule.strip())
    if words is None:
        words = (
            f"{KIND_LABELS[kind]}: значение не принято. Ответ службы обращений: «{rule.strip()}»."
        )
    return Refused(RefusalKind.INVALID, words, refusal.detail)
