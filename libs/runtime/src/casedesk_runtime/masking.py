"""Masking of personal data (SNILS, INN, phones, e-mails) before anything is logged.

The patterns are deliberately greedy: a false positive costs a few masked digits in a log line, a
false negative leaks a citizen's identifier.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# SNILS written as 123-456-789 01 or 123-456-789-01.
_SNILS = re.compile(r"\b\d{3}-\d{3}-\d{3}[ -]\d{2}\b")
# Phones: +7 (912) 345-67-89, +79123456789, 8 912 345 67 89 ...
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()-]{8,}\d\b")
# Case numbers (2026-0001234) look like phone fragments but are not personal data.
_CASE_NUMBER = re.compile(r"\d{4}-\d{7}")
# Bare runs of 10-12 digits: INN (10/12), SNILS without separators (11), phones without plus.
_DIGITS = re.compile(r"(?<![\w-])\d{10,12}(?![\w-])")


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
    if _CASE_NUMBER.fullmatch(match.group(0)):
        return match.group(0)
    return _keep_tail(match)


def mask_text(text: str) -> str:
    """Mask every identifier that looks like personal data inside free text."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _SNILS.sub(_keep_tail, text)
    text = _PHONE.sub(_mask_phone_like, text)
    return _DIGITS.sub(_keep_tail, text)
