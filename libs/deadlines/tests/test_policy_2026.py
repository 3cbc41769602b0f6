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
