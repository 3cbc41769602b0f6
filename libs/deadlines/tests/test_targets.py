"""Targets and countdowns: budgets, warnings, pauses and resumes."""

from datetime import datetime, timedelta

import pytest

from casedesk_deadlines import (
    MOSCOW,
    NaiveDatetimeError,
    Target,
    Unit,
    default_policy,
    load_policy,
)

POLICY = default_policy()
# The policy cases opened before 2026.1 keep: its SOCIAL first response is 2 business hours.
POLICY_2023 = load_policy("2023.1")
CALENDAR = POLICY.calendar


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def test_working_days_budget_adds_the_rest_of_a_working_registration_day() -> None:
    target = POLICY.target("EMAIL", "RESOLUTION")

    # Friday 10:00: 14 h of Friday plus 3 days.
    assert target.budget(msk(2025, 10, 24, 10)) == timedelta(hours=14 + 72)
    # Saturday is not a working day: nothing is added.
    assert target.budget(msk(2025, 10, 25, 10)) == timedelta(hours=72)


def test_countdown_with_two_pauses() -> None:
    # E-mail first response, 24 h on working days, started Mon 2025-10-20 09:00.
    countdown = POLICY.target("EMAIL", "FIRST_RESPONSE").start(msk(2025, 10, 20, 9))
    assert countdown.due() == msk(2025, 10, 21, 9)

    # Paused at 15:00 (6 h spent), resumed Tue 00:00 -> 18 h left -> due Tue 18:00.
    countdown = countdown.pause(msk(2025, 10, 20, 15))
    assert countdown.paused and countdown.due() is None and countdown.warn_at() is None
    assert countdown.remaining == timedelta(hours=18)
    countdown = countdown.resume(msk(2025, 10, 21, 0))
    assert countdown.due() == msk(2025, 10, 21, 18)

    # Paused Tue 10:00 (10 more spent, 8 h left), resumed Fri 20:00 -> 4 h Fri + 4 h Mon.
    countdown = countdown.pause(msk(2025, 10, 21, 10)).resume(msk(2025, 10, 24, 20))
    assert countdown.remaining == timedelta(hours=8)
    assert countdown.due() == msk(2025, 10, 27, 4)


def test_warning_after_resume_keeps_the_original_threshold() -> None:
    # Chat resolution, 2 h wall clock: the warning fires when 96 min are spent (24 min left).
    countdown = POLICY.target("PORTAL_CHAT", "RESOLUTION").start(msk(2025, 10, 20, 9))
    assert countdown.warn_at() == msk(2025, 10, 20, 10, 36)

    # 60 min spent, paused; resumed at 12:00 with 60 min left -> warn after 36 more min.
    resumed = countdown.pause(msk(2025, 10, 20, 10)).resume(msk(2025, 10, 20, 12))
    assert resumed.warn_at() == msk(2025, 10, 20, 12, 36)
    assert resumed.due() == msk(2025, 10, 20, 13)

    # 100 min spent before the pause: the threshold has passed, no new warning.
    late = countdown.pause(msk(2025, 10, 20, 10, 40)).resume(msk(2025, 10, 20, 12))
    assert late.warn_at() is None
    assert late.due() == msk(2025, 10, 20, 12, 20)


def test_remaining_is_never_negative_and_skewed_pauses_spend_nothing() -> None:
    target = POLICY.target("PORTAL_CHAT", "FIRST_RESPONSE")
    start = msk(2025, 10, 20, 9)

    assert target.remaining(start, msk(2025, 10, 20, 11)) == timedelta(0)
    assert target.remaining(start, msk(2025, 10, 20, 8, 59)) == timedelta(minutes=5)
    assert target.resume(timedelta(0), msk(2025, 10, 20, 12)) == msk(2025, 10, 20, 12)


def test_elapsed_fraction() -> None:
    countdown = POLICY_2023.target("SOCIAL", "FIRST_RESPONSE").start(msk(2025, 10, 24, 17))

    # 1 business hour of 2 is spent by Friday 18:00 and nothing more over the weekend.
    assert countdown.elapsed_fraction(msk(2025, 10, 26, 12)) == 0.5
    assert countdown.elapsed_fraction(msk(2025, 10, 27, 10)) == 1.0


def test_pause_and_resume_are_idempotent() -> None:
    countdown = POLICY.target("EMAIL", "FIRST_RESPONSE").start(msk(2025, 10, 20, 9))
    paused = countdown.pause(msk(2025, 10, 20, 10))

    assert countdown.resume(msk(2025, 10, 20, 11)) is countdown
    assert paused.pause(msk(2025, 10, 20, 12)) is paused


@pytest.mark.parametrize(
    ("unit", "amount", "fraction", "message"),
    [
        (Unit.WALL_CLOCK, timedelta(0), 0.8, "must be positive"),
        (Unit.WORKING_DAYS, timedelta(days=1, hours=1), 0.8, "whole days"),
        (Unit.BUSINESS_HOURS, timedelta(hours=2), 1.0, "warning_fraction"),
    ],
)
def test_invalid_targets_are_rejected(
    unit: Unit, amount: timedelta, fraction: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Target(unit, amount, CALENDAR, fraction)


def test_naive_instants_are_rejected_everywhere() -> None:
    naive = datetime(2025, 10, 20, 9)
    for unit in Unit:
        target = Target(unit, timedelta(days=1), CALENDAR)
        with pytest.raises(NaiveDatetimeError, match="must be timezone-aware"):
            target.due(naive)
        with pytest.raises(NaiveDatetimeError):
            target.resume(timedelta(hours=1), naive)
