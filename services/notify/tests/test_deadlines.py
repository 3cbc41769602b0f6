"""The acknowledgement's expected deadlines come from the shared deadline library."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from casedesk_notify.adapters.deadline_policy import PolicyDeadlines, deadline_estimator
from casedesk_notify.domain import ExpectedDeadlines

MOSCOW = ZoneInfo("Europe/Moscow")


def test_email_first_response_counts_working_day_hours_only() -> None:
    # DESIGN.md: an e-mail received Friday 15:00 before an ordinary weekend is due Monday 15:00.
    friday = datetime(2026, 3, 13, 15, 0, tzinfo=MOSCOW)
    expected = deadline_estimator().expected("EMAIL", friday)
    assert expected.first_response_due == datetime(2026, 3, 16, 15, 0, tzinfo=MOSCOW)
    assert expected.resolution_due is not None and expected.resolution_due > friday


def test_a_sign_in_problem_is_promised_within_24_hours_as_the_sla_clock_counts_it() -> None:
    # Policy 2026.1: whatever the channel, the answer within 24 hours on the wall clock.
    friday = datetime(2026, 3, 13, 15, 0, tzinfo=MOSCOW)
    expected = deadline_estimator().expected("EMAIL", friday, "REGISTRATION_SIGN_IN")
    assert expected.resolution_due == datetime(2026, 3, 14, 15, 0, tzinfo=MOSCOW)
    plain = deadline_estimator().expected("EMAIL", friday, "TECHNICAL_FAULT")
    assert plain.resolution_due == datetime(2026, 3, 19, 0, 0, tzinfo=MOSCOW)


def test_a_channel_without_first_response_target_has_only_a_resolution() -> None:
    expected = deadline_estimator().expected("MFC", datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    assert expected.first_response_due is None
    assert expected.resolution_due is not None


def test_an_unknown_channel_yields_no_promise_rather_than_a_guess() -> None:
    expected = deadline_estimator().expected("CHANNEL_UNSPECIFIED", datetime.now(UTC))
    assert expected == ExpectedDeadlines()


def test_an_unknown_policy_version_fails_at_start() -> None:
    with pytest.raises(LookupError):
        PolicyDeadlines("1999.9")
