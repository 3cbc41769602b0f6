"""Clocks: each measures time in its own units and adds an amount of its time to an instant.

``measure(start, end)`` is how much of the clock's time passes between two instants, and
``add(start, amount)`` is the earliest instant at which ``amount`` of it has passed since
``start``; so ``measure(start, add(start, d)) == d`` and adding ``d1`` then ``d2`` equals adding
``d1 + d2``. That is what lets an SLA clock pause (remaining = target - measured) and resume
(due = add(resumed_at, remaining)).

Window clocks run only inside a daily window of Moscow local time that depends on the day's
kind. Each keeps per-year tables (window per day, cumulative clock time before each day), so
``measure`` is O(1) within a year and ``add`` a binary search: no per-minute or per-day loops.
"""

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from casedesk_deadlines.moscow import (
    DAY_US,
    HOUR_US,
    MOSCOW,
    duration_micros,
    from_local,
    require_aware,
    to_local,
)
from casedesk_deadlines.russia import DayKind

# (open, close) in microseconds after local midnight for a day of the given kind.
DailyWindow = Callable[[DayKind], tuple[int, int]]


class Clock(Protocol):
    def add(self, start: datetime, amount: timedelta) -> datetime: ...

    def measure(self, start: datetime, end: datetime) -> timedelta: ...


class DayKindSource(Protocol):
    def day_kinds(self, year: int) -> bytes: ...


def whole_working_day(kind: DayKind) -> tuple[int, int]:
    return (0, 0) if kind is DayKind.NON_WORKING else (0, DAY_US)


_OFFICE_HOURS = {
    DayKind.NON_WORKING: (0, 0),
    DayKind.WORKING: (9 * HOUR_US, 18 * HOUR_US),
    DayKind.SHORTENED: (9 * HOUR_US, 17 * HOUR_US),
}


def office_hours(kind: DayKind) -> tuple[int, int]:
    return _OFFICE_HOURS[kind]


def _check_amount(amount: timedelta) -> int:
    if not isinstance(amount, timedelta):
        raise TypeError(f"amount must be a timedelta, got {type(amount).__name__}")
    micros = duration_micros(amount)
    if micros < 0:
        raise ValueError(f"amount must not be negative, got {amount}")
    return micros


class WallClock:
    """Plain elapsed time."""

    def add(self, start: datetime, amount: timedelta) -> datetime:
        require_aware(start, "start")
        _check_amount(amount)
        return (start.astimezone(UTC) + amount).astimezone(MOSCOW)

    def measure(self, start: datetime, end: datetime) -> timedelta:
        require_aware(start, "start")
        require_aware(end, "end")
        # Aware datetimes sharing a tzinfo subtract as wall times; UTC makes it elapsed time.
        return end.astimezone(UTC) - start.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class _YearTable:
    first_ordinal: int
    opens: list[int]
    closes: list[int]
    cumulative: list[int]  # clock time before each day; one extra entry: the year's total

    @property
    def total(self) -> int:
        return self.cumulative[-1]

    def offset(self, ordinal: int, micros: int) -> int:
        """Clock time from the start of the year to the instant."""
        day = ordinal - self.first_ordinal
        opens, closes = self.opens[day], self.closes[day]
        return self.cumulative[day] + min(max(micros, opens), closes) - opens


class WindowClock:
    """Time that runs only inside each day's window on a production calendar."""

    def __init__(self, calendar: DayKindSource, window: DailyWindow) -> None:
        self._calendar = calendar
        self._window = window
        self._tables: dict[int, _YearTable] = {}

    def measure(self, start: datetime, end: datetime) -> timedelta:
        require_aware(start, "start")
        require_aware(end, "end")
        start_year, start_ordinal, start_micros = to_local(start)
        end_year, end_ordinal, end_micros = to_local(end)
        if (end_year, end_ordinal, end_micros) < (start_year, start_ordinal, start_micros):
            return -self.measure(end, start)
        elapsed = self._table(end_year).offset(end_ordinal, end_micros) - self._table(
            start_year
        ).offset(start_ordinal, start_micros)
        for year in range(start_year, end_year):
            elapsed += self._table(year).total
        return timedelta(microseconds=elapsed)

    def left_today(self, instant: datetime) -> timedelta:
        """Clock time from ``instant`` to the end of its Moscow day."""
        require_aware(instant, "instant")
        year, ordinal, micros = to_local(instant)
        table = self._table(year)
        day = ordinal - table.first_ordinal
        spent = table.offset(ordinal, micros) - table.cumulative[day]
        return timedelta(microseconds=table.cumulative[day + 1] - table.cumulative[day] - spent)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        require_aware(start, "start")
        micros = _check_amount(amount)
        if micros == 0:
            return start.astimezone(MOSCOW)
        year, ordinal, start_micros = to_local(start)
        table = self._table(year)
        wanted = table.offset(ordinal, start_micros) + micros
        while wanted > table.total:
            wanted -= table.total
            year += 1
            table = self._table(year)
        # The first day whose window closes at or after the wanted clock time: landing exactly
        # on a closing time returns that closing instant, not the next opening.
        day = bisect_left(table.cumulative, wanted, 1) - 1
        return from_local(
            table.first_ordinal + day, table.opens[day] + wanted - table.cumulative[day]
        )

    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is None:
            table = self._tables[year] = self._build(year)
        return table

    def _build(self, year: int) -> _YearTable:
        opens, closes, cumulative = [], [], [0]
        for kind in self._calendar.day_kinds(year):
            day_open, day_close = self._window(DayKind(kind))
            opens.append(day_open)
            closes.append(day_close)
            cumulative.append(cumulative[-1] + day_close - day_open)
        first_ordinal = datetime(year, 1, 1).toordinal()
        return _YearTable(first_ordinal, opens, closes, cumulative)
