"""Policy 2026.1: social networks round the clock, sign-in problems answered within 24 hours."""

from datetime import datetime, timedelta

import pytest

from casedesk_deadlines import (
    MOSCOW,
    Deadlines,
    PolicyFormatError,
    TargetKind,
    Unit,
    load_policy,
    parse_policy,
)

SIGN_IN = "REGISTRATION_SIGN_IN"


def at(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=MOSCOW)  # type: ignore[misc]


@pytest.fixture(scope="module")
def deadlines() -> Deadlines:
    return Deadlines(load_policy("2026.1"))


def test_social_first_response_runs_on_the_wall_clock_on_a_holiday(deadlines: Deadlines) -> None:
    # Saturday 3 January 2026 is inside the New Year holidays: 2026.1 answers in 2 hours anyway.
    due = deadlines.compute("SOCIAL", at(2026, 1, 3, 10, 0))
    assert due.first_response_due == at(2026, 1, 3, 12, 0)
    assert due.policy_version == "2026.1"
    # The 2023.1 policy measured the same 2 hours in business hours: after the holidays.
    old = Deadlines(load_policy("2023.1")).compute("SOCIAL", at(2026, 1, 3, 10, 0))
    assert old.first_response_due == at(2026, 1, 12, 11, 0)


@pytest.mark.parametrize(
    ("registered_at", "due"),
    [
        # 2023.1's business-hours scenarios (test_acceptance.py), now 2 hours round the clock.
        pytest.param(at(2024, 12, 28, 17, 30), at(2024, 12, 28, 19, 30), id="working-saturday"),
        pytest.param(at(2025, 6, 11, 16, 0), at(2025, 6, 11, 18, 0), id="eve-of-russia-day"),
        pytest.param(at(2025, 11, 1, 16, 30), at(2025, 11, 1, 18, 30), id="shortened-saturday"),
        pytest.param(at(2025, 11, 8, 23, 30), at(2025, 11, 9, 1, 30), id="saturday-night"),
    ],
)
def test_social_first_response_is_2_hours_whatever_the_day(
    deadlines: Deadlines, registered_at: datetime, due: datetime
) -> None:
    assert deadlines.compute("SOCIAL", registered_at).first_response_due == due


def test_a_social_first_response_paused_keeps_wall_clock_time(deadlines: Deadlines) -> None:
    # Started Friday 17:00, paused 17:30: 1.5 h remain; resumed Saturday 12:00 -> 13:30 (2023.1:
    # Monday 10:30, the weekend did not count).
    target = deadlines.policy.target("SOCIAL", TargetKind.FIRST_RESPONSE)
    remaining = target.remaining(at(2025, 10, 24, 17, 0), at(2025, 10, 24, 17, 30))
    assert remaining == timedelta(hours=1, minutes=30)
    assert target.resume(remaining, at(2025, 10, 25, 12, 0)) == at(2025, 10, 25, 13, 30)
    # The warning at 80% of 2 hours: 96 minutes.
    assert target.warn_at(at(2025, 6, 11, 16, 0)) == at(2025, 6, 11, 17, 36)


def test_a_sign_in_problem_by_email_is_answered_within_24_wall_clock_hours(
    deadlines: Deadlines,
) -> None:
    # Friday 15:00 before an ordinary weekend: 3 working days would be Wednesday's end.
    friday = at(2026, 3, 13, 15, 0)
    assert deadlines.compute("EMAIL", friday).resolution_due == at(2026, 3, 18, 23, 59, 59) + (
        timedelta(seconds=1)
    )
    due = deadlines.compute("EMAIL", friday, SIGN_IN)
    assert due.resolution_due == at(2026, 3, 14, 15, 0)
    # The first response keeps the channel's own target.
    assert due.first_response_due == deadlines.compute("EMAIL", friday).first_response_due


@pytest.mark.parametrize(
    ("channel", "resolution"),
    [
        ("PORTAL_CHAT", timedelta(hours=2)),  # the channel's own target is sooner: kept
        ("PHONE", timedelta(hours=24)),
        ("EMAIL", timedelta(hours=24)),
        ("PERSONAL_ACCOUNT", timedelta(hours=24)),
        ("SOCIAL", timedelta(hours=24)),
        ("MFC", timedelta(hours=24)),
    ],
)
def test_the_sign_in_target_holds_whatever_the_channel(
    deadlines: Deadlines, channel: str, resolution: timedelta
) -> None:
    start = at(2026, 5, 8, 17, 30)  # the eve of Victory Day, a holiday weekend ahead
    assert deadlines.compute(channel, start, SIGN_IN).resolution_due == start + resolution
    target = deadlines.policy.target(channel, TargetKind.RESOLUTION, SIGN_IN)
    assert (target.unit, target.amount) == (Unit.WALL_CLOCK, resolution)


def test_other_categories_and_no_category_keep_the_channel_targets(deadlines: Deadlines) -> None:
    start = at(2026, 3, 13, 15, 0)
    plain = deadlines.compute("PHONE", start)
    assert deadlines.compute("PHONE", start, "OTHER") == plain
    assert deadlines.compute("PHONE", start, "TECHNICAL_FAULT") == plain
    # MFC has no first response, and a category never adds one.
    assert deadlines.compute("MFC", start, SIGN_IN).first_response_due is None


HEAD = 'version = "x.1"\ncalendar = "RU"\n'
CHANNEL = '[channels.EMAIL]\nresolution = { unit = "working_days", days = 3 }\n'


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            '[categories.PASSWORDS]\nresolution = { unit = "wall_clock", hours = 1 }',
            "unknown categories",
        ),
        (
            f'[categories.{SIGN_IN}]\nresolution = {{ unit = "working_days", days = 1 }}',
            "must be on the wall clock",
        ),
        (
            f'[categories.{SIGN_IN}]\nanswer = {{ unit = "wall_clock", hours = 1 }}',
            "unknown targets",
        ),
        ("categories = 3", "categories must be a table"),
    ],
)
def test_malformed_category_sections_are_refused(section: str, message: str) -> None:
    with pytest.raises(PolicyFormatError, match=message):
        # A bare key must come before the first table: the section goes between head and channel.
        parse_policy(HEAD + section + "\n" + CHANNEL)


def test_the_default_deadlines_are_2026_1() -> None:
    # What intake and notify compute with when no version is configured.
    default = Deadlines()
    due = default.compute("EMAIL", at(2026, 3, 13, 15, 0), SIGN_IN)
    assert (due.policy_version, due.resolution_due) == ("2026.1", at(2026, 3, 14, 15, 0))
    assert default.compute("SOCIAL", at(2026, 1, 3, 10, 0)).first_response_due == at(2026, 1, 3, 12)
