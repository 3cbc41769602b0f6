"""Properties of the clocks and targets over random instants of 2023-2027.

Additivity (adding d1 then d2 equals adding d1 + d2) holds for every clock: wall clock, hours
on working days and business hours, because ``add`` returns the earliest instant at which the
amount has passed, so the intermediate instant carries exactly the clock time already spent.
It does not hold for an "N working days" *target* chained onto another: counting starts the day
after registration, so restarting a target at a due instant (24:00 = 00:00 of the next day)
skips that whole next day. ``test_working_days_targets_do_not_chain`` pins that down.
"""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk_deadlines import (
    MOSCOW,
    DayKind,
    Target,
    Unit,
    WallClock,
    default_policy,
    load_policy,
    russian_calendar,
)
from casedesk_deadlines.clocks import Clock

CALENDAR = russian_calendar()
# Speed is measured by bench.py, never by a timed test: the first example of a year builds its
# tables, which must not trip Hypothesis's per-example deadline on a busy machine.
UNTIMED = settings(deadline=None)
POLICY = default_policy()
# Every target of the regulation's policies, the channels' and the categories': 2023.1 keeps
# running the clocks of the cases opened under it, 2026.1 is the default.
TARGETS = [
    target
    for policy in (load_policy("2023.1"), load_policy("2026.1"))
    for by_kind in (*policy.targets.values(), *policy.category_targets.values())
    for target in by_kind.values()
]
CLOCKS: dict[str, Clock] = {
    "wall_clock": WallClock(),
    "working_day_hours": CALENDAR.working_time,
    "business_hours": CALENDAR.business_hours,
}

instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(MOSCOW)
)
# Whole minutes keep the search space meaningful; a microsecond part keeps rounding honest.
amounts = st.builds(
    lambda minutes, micros: timedelta(minutes=minutes, microseconds=micros),
    st.integers(0, 90 * 24 * 60),
    st.integers(0, 999_999),
)
clock_names = st.sampled_from(sorted(CLOCKS))


@UNTIMED
@given(clock_names, instants, amounts, amounts)
def test_adding_twice_equals_adding_the_sum(
    name: str, start: datetime, first: timedelta, second: timedelta
) -> None:
    clock = CLOCKS[name]

    assert clock.add(clock.add(start, first), second) == clock.add(start, first + second)


@UNTIMED
@given(clock_names, instants, amounts)
def test_measure_inverts_add(name: str, start: datetime, amount: timedelta) -> None:
    clock = CLOCKS[name]

    assert clock.measure(start, clock.add(start, amount)) == amount


@UNTIMED
@given(clock_names, instants, instants, instants)
def test_measure_is_additive_over_consecutive_spans(
    name: str, first: datetime, second: datetime, third: datetime
) -> None:
    start, middle, end = sorted((first, second, third))
    clock = CLOCKS[name]

    assert clock.measure(start, middle) + clock.measure(middle, end) == clock.measure(start, end)


@UNTIMED
@given(st.sampled_from(TARGETS), instants, instants)
def test_deadlines_are_monotonic_in_the_start(
    target: Target, first: datetime, second: datetime
) -> None:
    earlier, later = sorted((first, second))

    assert target.due(earlier) <= target.due(later)
    assert target.warn_at(earlier) <= target.warn_at(later)
    assert earlier <= target.warn_at(earlier) <= target.due(earlier)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["working_day_hours", "business_hours"]), instants, instants)
def test_window_clocks_match_a_day_by_day_reference(
    name: str, first: datetime, second: datetime
) -> None:
    start, end = sorted((first, second))

    assert CLOCKS[name].measure(start, end) == reference_measure(name, start, end)


def reference_measure(name: str, start: datetime, end: datetime) -> timedelta:
    """Walk every day between the instants and add the overlap with that day's window."""
    start, end = start.astimezone(MOSCOW), end.astimezone(MOSCOW)
    total = timedelta(0)
    day = start.date()
    while day <= end.date():
        kind = CALENDAR.day_kind(day)
        if kind is not DayKind.NON_WORKING:
            opens, closes = (0, 24) if name == "working_day_hours" else (9, 18)
            if name == "business_hours" and kind is DayKind.SHORTENED:
                closes = 17
            midnight = datetime(day.year, day.month, day.day, tzinfo=MOSCOW)
            window_start = max(start, midnight + timedelta(hours=opens))
            window_end = min(end, midnight + timedelta(hours=closes))
            total += max(window_end - window_start, timedelta(0))
        day += timedelta(days=1)
    return total


@UNTIMED
@given(instants)
def test_working_days_due_is_end_of_a_working_day(start: datetime) -> None:
    due = POLICY.target("EMAIL", "RESOLUTION").due(start)

    assert (due.hour, due.minute, due.second, due.microsecond) == (0, 0, 0, 0)
    last_day = (due - timedelta(days=1)).date()
    assert CALENDAR.is_working_day(last_day)
    assert last_day > start.date()


def test_working_days_targets_do_not_chain() -> None:
    one_day = POLICY.target("PHONE", "RESOLUTION")
    two_days = Target(Unit.WORKING_DAYS, timedelta(days=2), CALENDAR)
    monday = datetime(2025, 10, 20, 10, tzinfo=MOSCOW)

    # 1 working day from Monday: Tue 24:00 (= Wed 00:00). Restarted there, counting starts the
    # day after Wednesday, so Wednesday is not counted: Thu 24:00, while 2 working days from
    # Monday end at Wed 24:00.
    once = one_day.due(monday)
    assert once == datetime(2025, 10, 22, tzinfo=MOSCOW)
    assert one_day.due(once) == datetime(2025, 10, 24, tzinfo=MOSCOW)
    assert two_days.due(monday) == datetime(2025, 10, 23, tzinfo=MOSCOW)


def test_instants_in_other_zones_are_the_same_instants() -> None:
    in_utc = datetime(2025, 10, 24, 12, tzinfo=UTC)
    in_moscow = in_utc.astimezone(MOSCOW)

    for clock in CLOCKS.values():
        assert clock.add(in_utc, timedelta(hours=30)) == clock.add(in_moscow, timedelta(hours=30))
