"""Masking of personal data (SNILS, INN, phones, e-mails, full names) before anything is logged.

The patterns are deliberately greedy: a false positive costs a few masked digits in a log line, a
false negative leaks a citizen's identifier. Names are the hard part: a surname alone cannot be
told from any other capitalised word, so free text is searched for what does identify a Russian
full name — a patronymic (-ович, -евна, -ична …) next to capitalised words, or initials beside a
surname — and log fields that hold names or citizens' texts are masked whole by their key
(`PERSONAL_FIELDS`, used by `casedesk_runtime.logs`).
"""

from __future__ import annotations

import re

# Internationalised addresses too (ivan@почта.рф): \w is Unicode-aware.
_EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@([\w-]+(?:\.[\w-]+)*\.\w{2,})")
# SNILS written as 123-456-789 01 or 123-456-789-01.
_SNILS = re.compile(r"\b\d{3}-\d{3}-\d{3}[ -]\d{2}\b")
# Phones: +7 (912) 345-67-89, +79123456789, 8 912 345 67 89, +7.912.345.67.89 ...
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{8,}\d\b")
_PHONE_DIGITS = 10  # fewer digits than a phone number: a date, an address, a version
# Case numbers (2026-0001234) look like phone fragments but are not personal data.
_CASE_NUMBER = re.compile(r"\d{4}-\d{7}")
# Bare runs of 10-12 digits: INN (10/12), SNILS without separators (11), phones without plus.
# Glued to a Cyrillic label (ИНН500100732259) they are still found; glued to Latin letters or
# hyphens they are part of an identifier (a UUID's last group), which is no personal data.
_DIGITS = re.compile(r"(?<![0-9A-Za-z_-])\d{10,12}(?![0-9A-Za-z_-])")
_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_PATRONYMIC = r"[А-ЯЁ][а-яё]+(?:ович|евич|ьич|овна|евна|ична|инична)"
_INITIALS = r"[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.)?"
_FULL_NAME = re.compile(
    "|".join(
        (
            rf"\b{_WORD}\s+{_WORD}\s+{_PATRONYMIC}\b",  # Смирнов Пётр Алексеевич
            rf"\b{_WORD}\s+{_PATRONYMIC}(?:\s+{_WORD})?\b",  # Пётр Алексеевич (Смирнов)
            rf"\b{_WORD}\s+{_INITIALS}",  # Смирнов П. А.
            rf"(?<!\w){_INITIALS}\s?{_WORD}\b",  # П. А. Смирнов
        )
    )
)
# Log fields holding a name or a citizen's own words: masked whole, whatever they contain.
PERSONAL_FIELDS = frozenset(
    {
        "full_name", "name", "surname", "first_name", "last_name", "patronymic", "citizen",
        "subject", "description", "body", "text", "comment", "attachment_name", "file_name",
        "filename",
    }
)  # fmt: skip


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


def _keep_tail(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"***{digits[-2:]}"


def _mask_phone_like(match: re.Match[str]) -> str:
    found = match.group(0)
    if _CASE_NUMBER.fullmatch(found) or len(re.sub(r"\D", "", found)) < _PHONE_DIGITS:
        return found
    return _keep_tail(match)


def _initial_only(match: re.Match[str]) -> str:
    return f"{match.group(0)[0]}***"


def mask_text(text: str) -> str:
    """Mask every identifier that looks like personal data inside free text."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _SNILS.sub(_keep_tail, text)
    text = _PHONE.sub(_mask_phone_like, text)
    text = _DIGITS.sub(_keep_tail, text)
    return _FULL_NAME.sub(_initial_only, text)


def mask_field(key: str, value: str) -> str:
    """A log field's value: masked whole when the field holds a name or a citizen's text."""
    return "***" if key in PERSONAL_FIELDS else mask_text(value)
