"""The Russian production calendar as published by the ``holidays`` package.

``holidays`` knows the statutory holidays (Labour Code art. 112), the government's yearly
transfers of days off and the working weekend days those transfers create (Saturday 2025-11-01).
It does not know which working days are shortened, so that is derived here (art. 95): a working day
is one hour shorter when the next calendar day is a statutory holiday. A working Saturday created by
a transfer swaps places with a weekday and takes that weekday's length with it: Saturday 2025-11-01
stands in for Monday 2025-11-03, the eve of Unity Day, so it is shortened; Saturday 2024-12-28
stands in for an ordinary Monday, so it is not. This reproduces the official calendars of
2023-2026.
"""

from collections.abc import Iterator
from datetime import date, timedelta
from enum import IntEnum

import holidays

ONE_DAY = timedelta(days=1)


class DayKind(IntEnum):
    NON_WORKING = 0
    WORKING = 1
    SHORTENED = 2  # a working day whose business hours end one hour earlier


class RussianHolidays:
    """Day kinds of one year of the Russian production calendar, from ``holidays``."""

    version = f"holidays-{holidays.__version__}"

    def __init__(self) -> None:
        self._stand_in_for, substituted = _transfers()
        # Substituted and in-lieu days off are days off but not holidays: they do not shorten
        # the day before them.
        self._not_statutory = substituted

    def day_kinds(self, year: int) -> bytearray:
        years = range(year - 1, year + 2)  # neighbours: eves and transfers cross year ends
        days_off = holidays.Russia(years=years, observed=True)
        statutory = holidays.Russia(years=years, observed=False)

        def is_statutory(day: date) -> bool:
            return day in statutory and day not in self._not_statutory

        kinds = bytearray()
        for day in _days_of(year):
            if not days_off.is_working_day(day):
                kinds.append(DayKind.NON_WORKING)
                continue
            eve_of = self._stand_in_for.get(day, day)
            shortened = is_statutory(day + ONE_DAY) or is_statutory(eve_of + ONE_DAY)
            kinds.append(DayKind.SHORTENED if shortened else DayKind.WORKING)
        return kinds


def _transfers() -> tuple[dict[date, date], frozenset[date]]:
    """Map each weekend day turned working to the weekday that became a day off in its place.

    ``holidays`` declares transfers as ``(to_month, to_day, from_month, from_day[, from_year])``
    per year in ``special_public_holidays``; it is the package's data table, read as such.
    """
    table = holidays.Russia(years=()).special_public_holidays
    stand_in_for: dict[date, date] = {}
    days_off: set[date] = set()
    for year, entries in table.items():
        for entry in entries if isinstance(entries[0], tuple) else (entries,):
            if len(entry) < 4:  # (month, day, name): a one-off day off, not a transfer
                days_off.add(date(year, entry[0], entry[1]))
                continue
            to_month, to_day, from_month, from_day, *from_year = entry
            day_off = date(year, to_month, to_day)
            source = date(from_year[0] if from_year else year, from_month, from_day)
            stand_in_for[source] = day_off
            days_off.add(day_off)
    return stand_in_for, frozenset(days_off)


def _days_of(year: int) -> Iterator[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += ONE_DAY
