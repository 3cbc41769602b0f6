"""The production calendar against the official Russian calendars of 2023-2026."""

from datetime import date, datetime, timedelta
from pathlib import Path

import holidays
import pytest

from casedesk_deadlines import (
    MOSCOW,
    CalendarOverrideError,
    CalendarOverrides,
    DayKind,
    ProductionCalendar,
    russian_calendar,
)

CALENDAR = russian_calendar()


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize(
    ("first_off", "last_off"),
    [
        (date(2023, 12, 30), date(2024, 1, 8)),  # a weekend, then the New Year holidays
        (date(2024, 12, 29), date(2025, 1, 8)),  # Dec 30-31 are days off moved from Saturdays
        (date(2025, 12, 31), date(2026, 1, 11)),  # Dec 31 and Jan 9 are transferred days off
    ],
)
def test_new_year_holidays(first_off: date, last_off: date) -> None:
    assert not any(CALENDAR.is_working_day(day) for day in days(first_off, last_off))
    assert CALENDAR.is_working_day(first_off - timedelta(1))
    assert CALENDAR.is_working_day(last_off + timedelta(1))


def test_transferred_working_saturdays() -> None:
    for saturday in (date(2024, 4, 27), date(2024, 11, 2), date(2024, 12, 28), date(2025, 11, 1)):
        assert saturday.weekday() == 5
        assert CALENDAR.is_working_day(saturday), saturday
    # In 2026 every transfer moves a holiday that fell on a weekend: no working Saturdays.
    assert not any(
        CALENDAR.is_working_day(day)
        for day in days(date(2026, 1, 1), date(2026, 12, 31))
        if day.weekday() >= 5
    )


def test_unity_day_2025() -> None:
    kinds = [CALENDAR.day_kind(day) for day in days(date(2025, 10, 31), date(2025, 11, 5))]

    assert kinds == [
        DayKind.WORKING,  # Fri Oct 31
        DayKind.SHORTENED,  # Sat Nov 1: worked in place of Mon Nov 3, the eve of Unity Day
        DayKind.NON_WORKING,  # Sun Nov 2
        DayKind.NON_WORKING,  # Mon Nov 3: day off moved from Nov 1
        DayKind.NON_WORKING,  # Tue Nov 4: Unity Day
        DayKind.WORKING,  # Wed Nov 5
    ]


@pytest.mark.parametrize(
    ("year", "working_days", "hours_of_40_hour_week", "shortened"),
    [
        (2023, 247, 1973, ["02-22", "03-07", "11-03"]),
        (2024, 248, 1979, ["02-22", "03-07", "05-08", "06-11", "11-02"]),
        (2025, 247, 1972, ["03-07", "04-30", "06-11", "11-01"]),
        (2026, 247, 1972, ["04-30", "05-08", "06-11", "11-03"]),
    ],
)
def test_official_year_totals(
    year: int, working_days: int, hours_of_40_hour_week: int, shortened: list[str]
) -> None:
    kinds = CALENDAR.day_kinds(year)
    year_days = days(date(year, 1, 1), date(year, 12, 31))

    assert sum(kind != DayKind.NON_WORKING for kind in kinds) == working_days
    assert sum({1: 8, 2: 7}.get(kind, 0) for kind in kinds) == hours_of_40_hour_week
    assert [f"{day:%m-%d}" for day in year_days if CALENDAR.is_shortened(day)] == shortened


def test_friday_before_weekend_holiday_eve_is_not_shortened() -> None:
    # Mar 8 2026 is a Sunday: its eve is a Saturday off, so Friday Mar 6 keeps full hours, while
    # Fri May 8 2026, the eve of Victory Day on Saturday, is shortened.
    assert CALENDAR.day_kind(date(2026, 3, 6)) is DayKind.WORKING
    assert CALENDAR.day_kind(date(2026, 3, 9)) is DayKind.NON_WORKING  # in lieu of Mar 8
    assert CALENDAR.day_kind(date(2026, 5, 8)) is DayKind.SHORTENED


def test_version_names_holidays_release_and_no_overrides() -> None:
    assert CALENDAR.version == f"RU/holidays-{holidays.__version__}/overrides-none"


OVERRIDE_FILE = b"""
# Hypothetical decree: Mon 2027-01-11 off, Sat 2027-02-27 worked and shortened.
holidays = [2027-01-11]
working_days = [2027-02-27]
shortened_days = [2027-02-27, 2027-03-05]
"""


def test_override_file_applies_extra_days(tmp_path: Path) -> None:
    path = tmp_path / "calendar-overrides.toml"
    path.write_bytes(OVERRIDE_FILE)
    calendar = ProductionCalendar(CalendarOverrides.from_file(path))

    assert CALENDAR.is_working_day(date(2027, 1, 11))
    assert not calendar.is_working_day(date(2027, 1, 11))
    assert calendar.day_kind(date(2027, 2, 27)) is DayKind.SHORTENED
    assert calendar.day_kind(date(2027, 3, 5)) is DayKind.SHORTENED
    assert calendar.day_kind(date(2027, 3, 4)) is DayKind.WORKING


def test_override_hash_is_part_of_the_version() -> None:
    first = ProductionCalendar(CalendarOverrides.from_bytes(OVERRIDE_FILE))
    same = ProductionCalendar(CalendarOverrides.from_bytes(OVERRIDE_FILE))
    edited = ProductionCalendar(CalendarOverrides.from_bytes(OVERRIDE_FILE + b"\n"))

    assert first.version == same.version
    assert first.version != edited.version
    assert first.version.startswith(f"RU/holidays-{holidays.__version__}/overrides-")
    assert not first.version.endswith("none")


def test_override_changes_business_hours_deadlines() -> None:
    calendar = ProductionCalendar(CalendarOverrides.from_bytes(b"holidays = [2027-01-11]"))
    default = russian_calendar()

    # Fri 2027-01-08 is still in the New Year holidays; 2 h after Mon Jan 11 09:00 is 11:00
    # normally, and Tue Jan 12 11:00 once Jan 11 is a day off.
    assert default.business_hours.measure(msk(2027, 1, 11, 9), msk(2027, 1, 11, 11)) == timedelta(
        hours=2
    )
    assert calendar.business_hours.measure(msk(2027, 1, 11, 9), msk(2027, 1, 12, 11)) == timedelta(
        hours=2
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"holiday = [2027-01-11]", "unknown keys"),
        (b"holidays = 2027-01-11", "must be a list"),
        (b"holidays = ['2027-01-11']", "bare TOML dates"),
        (b"holidays = [2027-01-11T00:00:00]", "bare TOML dates"),
        (b"holidays = [2027-01-11]\nworking_days = [2027-01-11]", "both as holidays"),
        (b"holidays = [2027-01-11]\nshortened_days = [2027-01-11]", "both as holidays"),
        (b"holidays = [", "not a valid TOML"),
    ],
)
def test_malformed_override_files_are_rejected(content: bytes, message: str) -> None:
    with pytest.raises(CalendarOverrideError, match=message):
        CalendarOverrides.from_bytes(content)


def test_shortened_day_must_be_a_working_day() -> None:
    overrides = CalendarOverrides.from_bytes(b"shortened_days = [2027-02-28]")  # a Sunday

    with pytest.raises(CalendarOverrideError, match="2027-02-28 is not a working day"):
        ProductionCalendar(overrides)


def test_missing_override_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CalendarOverrideError, match="cannot read calendar override file"):
        CalendarOverrides.from_file(tmp_path / "absent.toml")
