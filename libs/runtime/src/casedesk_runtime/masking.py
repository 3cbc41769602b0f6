"""Masking of personal data (SNILS, INN, phones, e-mails, full names, logins, postal addresses)
before anything is logged.

The patterns are deliberately greedy: a false positive costs a few masked digits in a log line, a
false negative leaks a citizen's identifier. Numbers are found by their digits, whatever separates
them: any 10 to 12 digits in a row, or in groups joined by spaces, dots, dashes or parentheses,
are a phone, a SNILS or an INN, also glued to Cyrillic letters (ИНН500100732259) or to a Latin
label (inn:, tel.). What the services log on purpose is told apart by shape: a case number
(2026-0001234), a UUID, a timestamp, an IP address with its port, a hex id, a count. Names are the
hard part: a surname alone cannot be told from any other capitalised word, so free text is searched
for what does identify a Russian full name — a patronymic (-ович, -евна, -ична …) next to
capitalised words, or initials beside a surname — and log fields that hold names, logins,
addresses, identifiers or citizens' texts are masked whole by their key (`PERSONAL_FIELDS`).
`mask_value` masks a log field of any type (numbers, bytes, lists, dicts, exceptions).
"""

from __future__ import annotations

import re
from typing import Any

# Internationalised addresses too (ivan@почта.рф): \w is Unicode-aware.
# Matched from the start of a word only, so a long word without @ is read once, not once a letter.
_EMAIL = re.compile(r"(?<![\w.%+-])([\w.%+-])[\w.%+-]*@([\w-]+(?:\.[\w-]+)*\.\w{2,})")
# 10-12 digits, up to three separators of a written number between two (+7 (912) 345-67-89,
# 123-456-789 01, 8.912.345.67.89). Not inside a word, an identifier or a longer number: no Latin
# letter or digit before (also across a dash or a dot), none after, and no colon, dash or dot
# leading to one (a timestamp's hour, a UUID's next group, an IP address's next byte).
# A separator may also be escaped, as repr() writes a no-break space: \xa0.
_SEP = r"(?:[ \u00a0\u2009\u2011.\-\u2013\u2014()]|\\+(?:x[0-9a-f]{2}|u[0-9a-f]{4}))"
_DIGIT_GROUPS = rf"(?:\+\s?)?\d(?:{_SEP}{{0,3}}\d){{9,11}}"
_NUMBER = re.compile(
    rf"(?<![0-9A-Za-z_+])(?<![0-9A-Za-z_][.\-:])({_DIGIT_GROUPS})(?![.\-:]?[0-9A-Za-z_])"
)
# A Latin label glued to a number (inn500100732259, tel.+79123456789, snils:12345678901).
_LABELLED_NUMBER = re.compile(
    rf"(?i)(?<![a-z])(inn|snils|tel|phone|mobile|mob|cell|fax)([.:=#№ ]{{0,2}})({_DIGIT_GROUPS})"
    r"(?![.\-:]?[0-9A-Za-z_])"
)
# Case numbers (2026-0001234) have as many digits as a SNILS but are not personal data.
_CASE_NUMBER = re.compile(r"20\d\d-\d{7}")
_LOGIN = re.compile(
    r"(?i)(\b(?:логин\w*|учётн\w+ запис\w+|учетн\w+ запис\w+)[\s:=]*|"
    r"\b(?:login|username|user_name|account_login)\s*[:=]\s*)([\"']?)([^\s,;\"'()<>]+)"
)
# A street (ул. Ленина, Тверская улица, Невский пр-т) and the house, building and flat after it.
_STREET_KIND = (
    r"(?:ул\.?|улица|пр-т|пр-кт|просп\.?|проспект|пр\.|пер\.?|переулок|ш\.|шоссе|б-р|бульвар|"
    r"наб\.?|набережная|пл\.|площадь|проезд|тупик|мкр\.?|микрорайон)"
)
_STREET_NAME = r"(?:\d{1,2}-?[а-яё]{0,2}\s)?[А-ЯЁ0-9][\w.-]{0,40}(?:\s[А-ЯЁ][\w-]{0,40})?"
_HOUSE = (
    r"(?:[,\s]*(?:д\.?|дом|корп\.?|корпус|к\.|стр\.?|строение|кв\.?|квартира|оф\.?|офис|лит\.?)?"
    r"\s*\d+[а-яА-Я]?(?:[/-]\d+[а-яА-Я]?)?(?:\s?к\.?\s?\d+)?(?![\w:]|\.\d))"
)
_ADDRESS = re.compile(
    rf"(?<!\w)(?:{_STREET_KIND}\s*{_STREET_NAME}|{_STREET_NAME}\s{_STREET_KIND})(?!\w){_HOUSE}*"
)
# A postcode before a town or a region (125009, Москва, ...; 190000 г. Санкт-Петербург) or after
# its name; a count before a capitalised word is not one.
_PLACE = r"(?:г\.|город|[А-ЯЁ][а-яё]+(?:[- ][А-ЯЁа-яё][а-яё]*){0,3},|[А-ЯЁ][а-яё]+ (?:обл|край))"
_POSTCODE = re.compile(rf"(?<![\w.\-:])\d{{6}}(?=,?\s*{_PLACE})|(?<=индекс )\d{{6}}\b")
_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_PATRONYMIC = r"[А-ЯЁ][а-яё]+(?:ович|евич|ич|овна|евна|ична|инична)"
_INITIALS = r"[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.)?"
_UPPER_WORD = r"[А-ЯЁ]{2,}(?:-[А-ЯЁ]{2,})?"
_UPPER_PATRONYMIC = r"[А-ЯЁ]+(?:ОВИЧ|ЕВИЧ|ИЧ|ОВНА|ЕВНА|ИЧНА|ИНИЧНА)"
_FULL_NAME = re.compile(
    "|".join(
        (
            rf"\b{_WORD}\s+{_WORD}\s+{_PATRONYMIC}\b",  # Смирнов Пётр Алексеевич
            rf"\b{_WORD}\s+{_PATRONYMIC}(?:\s+{_WORD})?\b",  # Пётр Алексеевич (Смирнов)
            rf"\b{_WORD}\s+{_INITIALS}",  # Смирнов П. А.
            rf"(?<!\w){_INITIALS}\s?{_WORD}\b",  # П. А. Смирнов
            rf"\b{_UPPER_WORD}\s+{_UPPER_WORD}\s+{_UPPER_PATRONYMIC}\b",  # СМИРНОВ ПЁТР АЛЕКСЕЕВИЧ
            rf"\b{_UPPER_WORD}\s+{_UPPER_PATRONYMIC}(?:\s+{_UPPER_WORD})?\b",
        )
    )
)
# Log fields holding a name, a login, an address, an identifier or a citizen's own words: masked
# whole, whatever they contain. Compared without case, underscores or dashes (fullName, e-mail).
PERSONAL_FIELDS = frozenset(
    {
        "full_name", "name", "surname", "first_name", "last_name", "patronymic", "citizen",
        "subject", "description", "body", "text", "comment", "attachment_name", "file_name",
        "filename", "login", "account_login", "citizen_login", "username", "user_name",
        "preferred_username", "author_handle", "handle", "nickname", "postal_address",
        "home_address", "address_line", "street", "snils", "inn", "phone", "mobile_phone",
        "email", "e_mail", "from_address", "caller_number", "passport", "birth_date",
        "date_of_birth", "steps_taken",
    }
)  # fmt: skip
# `address` is also where a server listens: kept when it is one (host:port, a URL).
_NETWORK_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+.-]*://\S*|\[?[\w.:%-]*\]?:\d{1,5})")


def _field_key(key: object) -> str:
    return re.sub(r"[\W_]", "", str(key)).lower()


_PERSONAL_KEYS = frozenset(map(_field_key, PERSONAL_FIELDS))


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if len(digits) < 4:
        return "***"
    return f"+***{digits[-2:]}"


def _keep_tail(found: str) -> str:
    digits = re.sub(r"\D", "", found)
    return f"***{digits[-2:]}"


def _mask_number(match: re.Match[str]) -> str:
    found = match.group(1)
    if _CASE_NUMBER.fullmatch(found):
        return match.group(0)
    return match.group(0).replace(found, _keep_tail(found))


def mask_text(text: str) -> str:
    """Mask every identifier that looks like personal data inside free text."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _LOGIN.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _LABELLED_NUMBER.sub(lambda m: f"{m.group(1)}{m.group(2)}{_keep_tail(m.group(3))}", text)
    text = _NUMBER.sub(_mask_number, text)
    text = _ADDRESS.sub("***", text)
    text = _POSTCODE.sub("***", text)
    return _FULL_NAME.sub(lambda m: f"{m.group(0)[0]}***", text)


def mask_field(key: str, value: str) -> str:
    """A log field's value: masked whole when the field holds personal data by its name."""
    name = _field_key(key)
    if name in _PERSONAL_KEYS:
        return "***"
    if name == "address" and not _NETWORK_ADDRESS.fullmatch(value.strip()):
        return "***"
    return mask_text(value)


def mask_value(key: str, value: Any) -> Any:
    """A log field of any type, masked as JSON will show it; lists and dicts item by item."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return mask_field(key, value)
    if _field_key(key) in _PERSONAL_KEYS:
        return "***"
    if isinstance(value, int | float):
        shown = str(value)
        return value if mask_text(shown) == shown else mask_text(shown)
    if isinstance(value, bytes | bytearray | memoryview):
        return mask_field(key, bytes(value).decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {mask_text(str(k)): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(key, item) for item in value]
    return mask_field(key, str(value))  # an exception, a path, a dataclass: as json's str()
