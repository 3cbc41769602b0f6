from __future__ import annotations

import pytest

from casedesk_notify.domain.sms_segments import SmsEncoding, count_segments


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_fits_160_alone_and_153_per_part(length: int, segments: int) -> None:
    count = count_segments("a" * length)
    assert count.encoding is SmsEncoding.GSM7
    assert (count.segments, count.units) == (segments, length)


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_cyrillic_forces_ucs2_70_alone_and_67_per_part(length: int, segments: int) -> None:
    count = count_segments("ж" * length)
    assert count.encoding is SmsEncoding.UCS2
    assert (count.segments, count.units) == (segments, length)


def test_one_cyrillic_letter_turns_a_latin_text_into_ucs2() -> None:
    count = count_segments("a" * 100 + "ю")
    assert count.encoding is SmsEncoding.UCS2
    assert count.segments == 2


def test_extension_characters_take_two_septets() -> None:
    assert count_segments("€" * 80) == count_segments("a" * 160)
    assert count_segments("€" * 81).segments == 2


def test_an_escaped_character_is_not_split_between_parts() -> None:
    # 152 septets then a 2-septet euro: it does not fit the first part's 153, so it moves on.
    text = "a" * 152 + "€" + "a" * 152
    count = count_segments(text)
    assert count.units == 306
    assert count.segments == 3  # 152 | 2 + 151 | 1: the same units as 306 plain septets need 2


def test_emoji_are_two_ucs2_units_and_never_split() -> None:
    assert count_segments("😀" * 35).segments == 1  # 70 units
    assert count_segments("😀" * 36).segments == 2
    # 66 units then a surrogate pair: the pair goes whole into the second part.
    assert count_segments("ж" * 66 + "😀" + "ж" * 66).segments == 3


def test_the_real_status_sms_fits_one_part() -> None:
    assert count_segments("Обращение 2026-0001234: статус «В работе».").segments == 1
