"""Clock edge cases: boundaries, long spans, years without published transfers."""

from datetime import date, datetime, timedelta

import pytest

from casedesk_deadlines import MOSCOW, Clock, NaiveDatetimeError, WallClock, russian_calendar

CALENDAR = russian_calendar()
BUSINESS = CALENDAR.business_hours
WORKING = CALENDAR.working_time


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def test_landing_on_closing_time_returns_the_closing_instant() -> None:
    # Friday 17:00 + 1 business hour is Friday 18:00, not Monday 09:00.
    assert BUSINESS.add(msk(2025, 10, 24, 17), timedelta(hours=1)) == msk(2025, 10, 24, 18)
    # And one microsecond more is just after Monday 09:00.
    assert BUSINESS.add(msk(2025, 10, 24, 17), timedelta(hours=1, microseconds=1)) == msk(
        2025, 10, 27, 9, 0, 0, 1
    )


def test_starting_outside_the_window_waits_for_it() -> None:
    # Sunday night: nothing runs until Monday 09:00.
    assert BUSINESS.add(msk(2025, 10, 26, 23), timedelta(minutes=30)) == msk(2025, 10, 27, 9, 30)
    # Monday 07:00 before opening: also 09:00 + 30 min.
    assert BUSINESS.add(msk(2025, 10, 27, 7), timedelta(minutes=30)) == msk(2025, 10, 27, 9, 30)
    # Working time starts at Monday 00:00.
    assert WORKING.add(msk(2025, 10, 26, 23), timedelta(minutes=30)) == msk(2025, 10, 27, 0, 30)


def test_adding_nothing_returns_the_start() -> None:
    saturday = msk(2025, 10, 25, 12)

    for clock in (WallClock(), BUSINESS, WORKING):
        assert clock.add(saturday, timedelta(0)) == saturday


def test_measure_is_signed() -> None:
    start, end = msk(2025, 10, 24, 10), msk(2025, 10, 27, 10)

    assert BUSINESS.measure(start, end) == timedelta(hours=9)
    assert BUSINESS.measure(end, start) == -timedelta(hours=9)
    assert WallClock().measure(end, start) == -timedelta(days=3)


def test_multi_year_spans() -> None:
    # 2024: 248 working days, 5 of them shortened; 2025: 247 and 4 (see test_calendar).
    start, end = msk(2024, 1, 1), msk(2026, 1, 1)

    assert WORKING.measure(start, end) == timedelta(days=248 + 247)
    assert BUSINESS.measure(start, end) == timedelta(hours=(248 + 247) * 9 - 5 - 4)
    assert BUSINESS.add(start, timedelta(hours=(248 + 247) * 9 - 5 - 4)) == msk(2025, 12, 30, 18)


def test_years_beyond_published_transfers_still_follow_the_labour_code() -> None:
    # 2040: no transfer decree is known, but statutory holidays and weekends still apply.
    assert not CALENDAR.is_working_day(date(2040, 5, 1))
    assert CALENDAR.is_shortened(date(2040, 4, 30))
    # Mon 2040-04-30 16:00 + 2 business hours: 1 h (shortened), May 1 off, Wed 09:00 + 1 h.
    assert BUSINESS.add(msk(2040, 4, 30, 16), timedelta(hours=2)) == msk(2040, 5, 2, 10)


@pytest.mark.parametrize("clock", [WallClock(), BUSINESS, WORKING])
def test_clocks_reject_naive_instants_and_negative_amounts(clock: Clock) -> None:
    with pytest.raises(NaiveDatetimeError, match="start must be timezone-aware"):
        clock.add(datetime(2025, 1, 1), timedelta(hours=1))
    with pytest.raises(NaiveDatetimeError, match="end must be timezone-aware"):
        clock.measure(msk(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(ValueError, match="must not be negative"):
        clock.add(msk(2025, 1, 1), timedelta(hours=-1))
