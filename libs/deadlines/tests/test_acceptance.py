"""Acceptance scenarios of the SLA issue: each due instant worked out by hand in its comment.

All times are Moscow time (UTC+3). "24:00 of day D" is written as 00:00 of D + 1. The scenarios
were written for policy 2023.1, which cases opened before 2026.1 keep; each runs under 2023.1 and
under 2026.1 (the default), except SOCIAL's first response, which 2026.1 measures on the wall
clock instead of in business hours (its scenarios: tests/test_policy_2026.py).
"""

from datetime import UTC, datetime, timedelta

import pytest

from casedesk_deadlines import (
    DEFAULT_POLICY_VERSION,
    MOSCOW,
    Deadlines,
    NaiveDatetimeError,
    default_policy,
    load_policy,
)


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


VERSIONS = ("2023.1", "2026.1")
CHANGED_IN_2026 = {("SOCIAL", "FIRST_RESPONSE")}


def under_both_policies(cases: list) -> list:  # type: ignore[type-arg]
    """Each scenario (channel and kind first) under every version whose rules it was worked out
    by: both, unless 2026.1 changed that target."""
    return [
        pytest.param(version, *case.values, id=f"{version}-{case.id}")
        for case in cases
        for version in VERSIONS
        if version == "2023.1" or tuple(case.values[:2]) not in CHANGED_IN_2026
    ]


DUE_CASES = [
    pytest.param(
        # 24 h of working days from Fri 15:00: 9 h on Friday, Sat and Sun do not count,
        # 15 h on Monday -> Mon 15:00.
        "EMAIL",
        "FIRST_RESPONSE",
        msk(2025, 10, 24, 15),
        msk(2025, 10, 27, 15),
        id="email-friday-15-before-ordinary-weekend",
    ),
    pytest.param(
        # The same instant given in UTC (12:00Z = 15:00 MSK) gives the same due instant.
        "EMAIL",
        "FIRST_RESPONSE",
        datetime(2025, 10, 24, 12, tzinfo=UTC),
        msk(2025, 10, 27, 15),
        id="email-registered-in-utc",
    ),
    pytest.param(
        # Registered Fri 2025-01-03, inside the New Year holidays (Jan 1-8 off): working time
        # starts Thu Jan 9 00:00, 24 h later is Jan 9 24:00.
        "EMAIL",
        "FIRST_RESPONSE",
        msk(2025, 1, 3, 12),
        msk(2025, 1, 10, 0),
        id="email-first-response-inside-new-year-holidays",
    ),
    pytest.param(
        # Counting starts Jan 4; working days Thu Jan 9 (1), Fri Jan 10 (2), Mon Jan 13 (3)
        # -> Jan 13 24:00.
        "EMAIL",
        "RESOLUTION",
        msk(2025, 1, 3, 12),
        msk(2025, 1, 14, 0),
        id="email-resolution-inside-new-year-holidays",
    ),
    pytest.param(
        # Fri 2023-12-29 20:00: 4 h left that day; Dec 30 - Jan 8 are off; the remaining 20 h
        # run on Tue 2024-01-09 from 00:00 -> 20:00.
        "EMAIL",
        "FIRST_RESPONSE",
        msk(2023, 12, 29, 20),
        msk(2024, 1, 9, 20),
        id="email-across-new-year-2024",
    ),
    pytest.param(
        # Tue 2025-12-30 is the last working day of 2025 (Dec 31 is a transferred day off),
        # 2026 starts working on Mon Jan 12: the 1st working day after registration is Jan 12.
        "PHONE",
        "RESOLUTION",
        msk(2025, 12, 30, 16),
        msk(2026, 1, 13, 0),
        id="phone-across-new-year-2026",
    ),
    pytest.param(
        # Sat 2024-12-28 is a working Saturday with full hours: 17:30-18:00 counts 0.5 h; the
        # holidays run Dec 29 - Jan 8; Thu 2025-01-09 09:00 + 1.5 h -> 10:30.
        "SOCIAL",
        "FIRST_RESPONSE",
        msk(2024, 12, 28, 17, 30),
        msk(2025, 1, 9, 10, 30),
        id="social-working-saturday-before-new-year-2025",
    ),
    pytest.param(
        # Sat 2025-11-01 was a working day: 9 h on Fri Oct 31 + 15 h on Saturday -> Sat 15:00.
        "EMAIL",
        "FIRST_RESPONSE",
        msk(2025, 10, 31, 15),
        msk(2025, 11, 1, 15),
        id="email-transferred-working-saturday",
    ),
    pytest.param(
        # The 1st working day after Fri Oct 31 is Sat Nov 1 -> due Nov 1 24:00.
        "PHONE",
        "RESOLUTION",
        msk(2025, 10, 31, 15),
        msk(2025, 11, 2, 0),
        id="phone-resolution-on-transferred-saturday",
    ),
    pytest.param(
        # Wed 2025-06-11, eve of Russia Day, ends at 17:00: 1 h counts; Jun 12-15 are off;
        # Mon Jun 16 09:00 + 1 h -> 10:00.
        "SOCIAL",
        "FIRST_RESPONSE",
        msk(2025, 6, 11, 16),
        msk(2025, 6, 16, 10),
        id="social-pre-holiday-shortened-day",
    ),
    pytest.param(
        # An ordinary Wednesday ends at 18:00: 16:00 + 2 h -> 18:00 the same day.
        "SOCIAL",
        "FIRST_RESPONSE",
        msk(2025, 6, 4, 16),
        msk(2025, 6, 4, 18),
        id="social-ordinary-day",
    ),
    pytest.param(
        # Sat 2025-11-01 is working and shortened (it stands in for Mon Nov 3, the eve of Unity
        # Day): 16:30-17:00 is 0.5 h; Nov 2-4 are off; Wed Nov 5 09:00 + 1.5 h -> 10:30.
        "SOCIAL",
        "FIRST_RESPONSE",
        msk(2025, 11, 1, 16, 30),
        msk(2025, 11, 5, 10, 30),
        id="social-shortened-working-saturday",
    ),
    pytest.param(
        # Wall clock: 23:58 Saturday + 5 min -> 00:03 Sunday; nights and weekends count.
        "PORTAL_CHAT",
        "FIRST_RESPONSE",
        msk(2025, 11, 8, 23, 58),
        msk(2025, 11, 9, 0, 3),
        id="chat-5-minutes",
    ),
    pytest.param(
        # Wall clock: 23:58 + 2 h -> 01:58 next day.
        "PORTAL_CHAT",
        "RESOLUTION",
        msk(2025, 11, 8, 23, 58),
        msk(2025, 11, 9, 1, 58),
        id="chat-2-hours",
    ),
    pytest.param(
        # Counting starts Saturday: Mon Oct 27 (1), Tue Oct 28 (2), Wed Oct 29 (3)
        # -> Wed 24:00.
        "PERSONAL_ACCOUNT",
        "RESOLUTION",
        msk(2025, 10, 24, 11),
        msk(2025, 10, 30, 0),
        id="three-working-days-from-a-friday",
    ),
    pytest.param(
        # Wall clock: Wed 2025-06-11 20:00 + 12 h -> Thu Jun 12 08:00, a holiday, which does not
        # stop a wall clock.
        "PERSONAL_ACCOUNT",
        "FIRST_RESPONSE",
        msk(2025, 6, 11, 20),
        msk(2025, 6, 12, 8),
        id="personal-account-12-hours-over-a-holiday",
    ),
    pytest.param(
        # Registered on Sunday: counting starts Monday, which is the 1st working day
        # -> Mon 24:00.
        "MFC",
        "RESOLUTION",
        msk(2025, 10, 26, 10),
        msk(2025, 10, 28, 0),
        id="mfc-registered-on-sunday",
    ),
]


@pytest.mark.parametrize(
    ("version", "channel", "kind", "registered_at", "expected_due"), under_both_policies(DUE_CASES)
)
def test_due_instants(
    version: str, channel: str, kind: str, registered_at: datetime, expected_due: datetime
) -> None:
    assert load_policy(version).target(channel, kind).due(registered_at) == expected_due


def test_compute_returns_both_deadlines_and_versions() -> None:
    deadlines = Deadlines().compute("EMAIL", msk(2025, 10, 24, 15))

    assert deadlines.first_response_due == msk(2025, 10, 27, 15)
    # Counting starts Sat: Mon (1), Tue (2), Wed Oct 29 (3) -> Wed 24:00.
    assert deadlines.resolution_due == msk(2025, 10, 30, 0)
    assert deadlines.policy_version == DEFAULT_POLICY_VERSION == "2026.1"
    assert deadlines.calendar_version == default_policy().calendar_version


def test_mfc_has_no_first_response_deadline() -> None:
    deadlines = Deadlines().compute("MFC", msk(2025, 10, 24, 15))

    assert deadlines.first_response_due is None
    # The 1st working day after Friday is Monday -> Mon 24:00.
    assert deadlines.resolution_due == msk(2025, 10, 28, 0)


def test_due_instants_are_in_moscow_time() -> None:
    due = Deadlines().compute("PORTAL_CHAT", datetime(2025, 3, 3, 9, tzinfo=UTC))

    assert due.first_response_due is not None
    assert due.first_response_due.utcoffset() == timedelta(hours=3)
    assert due.first_response_due == msk(2025, 3, 3, 12, 5)


WARN_CASES = [
    pytest.param(
        # 80% of 24 h = 19 h 12 min: 9 h on Friday, 10 h 12 min on Monday -> Mon 10:12.
        "EMAIL",
        "FIRST_RESPONSE",
        msk(2025, 10, 24, 15),
        msk(2025, 10, 27, 10, 12),
        id="email-first-response",
    ),
    pytest.param(
        # 80% of 5 min = 4 min.
        "PORTAL_CHAT",
        "FIRST_RESPONSE",
        msk(2025, 11, 8, 23, 58),
        msk(2025, 11, 9, 0, 2),
        id="chat-first-response",
    ),
    pytest.param(
        # 80% of 2 business hours = 96 min: Wed Jun 11 16:00-17:00 is 60 min (shortened),
        # then Mon Jun 16 09:00 + 36 min -> 09:36.
        "SOCIAL",
        "FIRST_RESPONSE",
        msk(2025, 6, 11, 16),
        msk(2025, 6, 16, 9, 36),
        id="social-over-shortened-day",
    ),
    pytest.param(
        # Budget: rest of Friday (13 h from 11:00) + 3 x 24 h = 85 h; 80% = 68 h: 13 h Friday,
        # 24 h Mon, 24 h Tue, 7 h Wed -> Wed Oct 29 07:00.
        "PERSONAL_ACCOUNT",
        "RESOLUTION",
        msk(2025, 10, 24, 11),
        msk(2025, 10, 29, 7),
        id="three-working-days-from-a-friday",
    ),
]


@pytest.mark.parametrize(
    ("version", "channel", "kind", "registered_at", "expected_warn"),
    under_both_policies(WARN_CASES),
)
def test_warning_instants(
    version: str, channel: str, kind: str, registered_at: datetime, expected_warn: datetime
) -> None:
    assert load_policy(version).target(channel, kind).warn_at(registered_at) == expected_warn


PAUSE_CASES = [
    pytest.param(
        # Started Thu 10:00; by Fri 06:00 14 h + 6 h = 20 h are spent, 4 h remain. The citizen
        # answers on Mon 09:00: 09:00 + 4 h -> Mon 13:00 (the weekend never counted anyway).
        "EMAIL",
        "FIRST_RESPONSE",
        msk(2025, 10, 23, 10),
        msk(2025, 10, 24, 6),
        msk(2025, 10, 27, 9),
        timedelta(hours=4),
        msk(2025, 10, 27, 13),
        id="email-first-response-paused-over-weekend",
    ),
    pytest.param(
        # Started Fri 17:00, paused 17:30: 1.5 business hours remain. Resumed Saturday 12:00,
        # a day off: the clock waits for Mon 09:00, + 1.5 h -> 10:30.
        "SOCIAL",
        "FIRST_RESPONSE",
        msk(2025, 10, 24, 17),
        msk(2025, 10, 24, 17, 30),
        msk(2025, 10, 25, 12),
        timedelta(hours=1, minutes=30),
        msk(2025, 10, 27, 10, 30),
        id="social-resumed-on-saturday",
    ),
    pytest.param(
        # Registered Mon Oct 20 10:00: budget 14 h + 72 h = 86 h (due Thu 24:00). Paused Wed
        # 12:00 after 14 + 24 + 12 = 50 h: 36 h remain. Resumed Mon Oct 27 12:00: 12 h Monday,
        # 24 h Tuesday -> Tue 24:00.
        "EMAIL",
        "RESOLUTION",
        msk(2025, 10, 20, 10),
        msk(2025, 10, 22, 12),
        msk(2025, 10, 27, 12),
        timedelta(hours=36),
        msk(2025, 10, 29, 0),
        id="three-working-days-paused-over-weekend",
    ),
    pytest.param(
        # Wall clock: 2 h from Fri 17:00, paused 17:45 -> 75 min remain; resumed Mon 09:00
        # -> 10:15.
        "PORTAL_CHAT",
        "RESOLUTION",
        msk(2025, 10, 24, 17),
        msk(2025, 10, 24, 17, 45),
        msk(2025, 10, 27, 9),
        timedelta(minutes=75),
        msk(2025, 10, 27, 10, 15),
        id="chat-paused-over-weekend",
    ),
]


@pytest.mark.parametrize(
    (
        "version", "channel", "kind", "started", "paused", "resumed", "expected_remaining",
        "expected_due",
    ),
    under_both_policies(PAUSE_CASES),
)  # fmt: skip
def test_pause_and_resume(
    version: str,
    channel: str,
    kind: str,
    started: datetime,
    paused: datetime,
    resumed: datetime,
    expected_remaining: timedelta,
    expected_due: datetime,
) -> None:
    target = load_policy(version).target(channel, kind)

    remaining = target.remaining(started, paused)

    assert remaining == expected_remaining
    assert target.resume(remaining, resumed) == expected_due


def test_naive_registration_time_is_rejected() -> None:
    with pytest.raises(NaiveDatetimeError, match="registered_at must be timezone-aware"):
        Deadlines().compute("EMAIL", datetime(2025, 10, 24, 15))
