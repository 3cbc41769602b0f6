"""The production calendar: which Moscow days are working, and which of them are shortened."""

from datetime import date
from functools import cache, cached_property

from casedesk_deadlines.clocks import WindowClock, office_hours, whole_working_day
from casedesk_deadlines.errors import CalendarOverrideError, UnknownCalendarError
from casedesk_deadlines.overrides import CalendarOverrides
from casedesk_deadlines.russia import DayKind, RussianHolidays


class ProductionCalendar:
    """Working days of the Russian production calendar plus operator overrides.

    Day facts are computed once per year and cached; the clocks built on a calendar cache their
    own per-year tables on top.
    """

    name = "RU"

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self.overrides = overrides or CalendarOverrides()
        self._source = RussianHolidays()
        self._years: dict[int, bytes] = {}
        self._check_overrides()

    @cached_property
    def version(self) -> str:
        """Names the calendar data: ``RU/holidays-<version>/overrides-<sha256 prefix or none>``."""
        return f"{self.name}/{self._source.version}/overrides-{self.overrides.digest or 'none'}"

    def day_kinds(self, year: int) -> bytes:
        """One ``DayKind`` per day of ``year``, January 1st first."""
        kinds = self._years.get(year)
        if kinds is None:
            kinds = self._years[year] = bytes(self._build_year(year))
        return kinds

    def day_kind(self, day: date) -> DayKind:
        return DayKind(self.day_kinds(day.year)[day.timetuple().tm_yday - 1])

    def is_working_day(self, day: date) -> bool:
        return self.day_kind(day) is not DayKind.NON_WORKING

    def is_shortened(self, day: date) -> bool:
        return self.day_kind(day) is DayKind.SHORTENED

    @cached_property
    def working_time(self) -> WindowClock:
        """Clock running 00:00-24:00 on working days."""
        return WindowClock(self, whole_working_day)

    @cached_property
    def business_hours(self) -> WindowClock:
        """Clock running 09:00-18:00 on working days, 09:00-17:00 on shortened ones."""
        return WindowClock(self, office_hours)

    def __repr__(self) -> str:
        return f"ProductionCalendar({self.version!r})"

    def _build_year(self, year: int) -> bytearray:
        kinds = self._source.day_kinds(year)
        first = date(year, 1, 1).toordinal()
        overrides = self.overrides
        for day in overrides.holidays:
            if day.year == year:
                kinds[day.toordinal() - first] = DayKind.NON_WORKING
        for day in overrides.working_days:
            if day.year == year and kinds[day.toordinal() - first] == DayKind.NON_WORKING:
                kinds[day.toordinal() - first] = DayKind.WORKING
        for day in overrides.shortened_days:
            if day.year == year:
                kinds[day.toordinal() - first] = DayKind.SHORTENED
        return kinds

    def _check_overrides(self) -> None:
        # A shortened day must be a working day once the overrides apply; say so at load time.
        for day in sorted(self.overrides.shortened_days):
            source_kind = self._source.day_kinds(day.year)[day.timetuple().tm_yday - 1]
            if source_kind == DayKind.NON_WORKING and day not in self.overrides.working_days:
                raise CalendarOverrideError(
                    f"shortened day {day.isoformat()} is not a working day; "
                    "list it under working_days as well"
                )


@cache
def russian_calendar(overrides: CalendarOverrides | None = None) -> ProductionCalendar:
    """The shared calendar instance for these overrides (so its caches are shared too)."""
    return ProductionCalendar(overrides)


def calendar_named(name: str, overrides: CalendarOverrides | None = None) -> ProductionCalendar:
    if name != ProductionCalendar.name:
        raise UnknownCalendarError(
            f"unknown production calendar {name!r}; available: {ProductionCalendar.name!r}"
        )
    return russian_calendar(overrides)
