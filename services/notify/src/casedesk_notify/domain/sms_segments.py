"""How many SMS parts a text costs (3GPP TS 23.038 / 23.040).

A text made only of GSM 03.38 characters travels in the 7-bit alphabet: 160 septets in one SMS,
153 per part once concatenated (the user-data header takes the rest). Characters of the extension
table (€, [, ] ...) take two septets and never straddle two parts. Anything else, Cyrillic
included, forces UCS-2 for the whole message: 70 UTF-16 units in one SMS, 67 per part, and a
surrogate pair (emoji) is never split. Providers bill per part, so the count is kept in the
delivery journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentCount:
    encoding: SmsEncoding
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


_LIMITS = {SmsEncoding.GSM7: (160, 153), SmsEncoding.UCS2: (70, 67)}


def encoding_of(text: str) -> SmsEncoding:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return SmsEncoding.GSM7
    return SmsEncoding.UCS2


def _unit_widths(text: str, encoding: SmsEncoding) -> list[int]:
    """Width of every character in the encoding's units; a character is never split."""
    if encoding is SmsEncoding.GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> SegmentCount:
    encoding = encoding_of(text)
    widths = _unit_widths(text, encoding)
    units = sum(widths)
    single, per_part = _LIMITS[encoding]
    if units <= single:
        return SegmentCount(encoding, 1, units)
    segments, used = 1, 0
    for width in widths:
        if used + width > per_part:
            segments, used = segments + 1, 0
        used += width
    return SegmentCount(encoding, segments, units)
