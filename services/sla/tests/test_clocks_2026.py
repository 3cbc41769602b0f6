"""Policy 2026.1, the default for new clocks: category targets and SOCIAL round the clock."""

from __future__ import annotations

import pytest
from sla_builders import MINUTE, CaseHistory, msk

from casedesk_deadlines import DEFAULT_POLICY_VERSION
from casedesk_sla.domain import PolicyRegistry, SlaBook, SlaKind
from casedesk_sla.settings import SlaSettings
from casedesk_vocabulary.enums import DeadlineTarget

FR, RES = DeadlineTarget.FIRST_RESPONSE, DeadlineTarget.RESOLUTION
HOUR = 60 * MINUTE
SIGN_IN = "REGISTRATION_SIGN_IN"
FRIDAY_15 = msk(2026, 3, 13, 15, 0)  # an ordinary weekend ahead


@pytest.fixture
def book() -> SlaBook:
    """A book under the service's default policy."""
    return SlaBook(PolicyRegistry(SlaSettings().sla_policy_version))


def test_the_service_starts_new_clocks_under_2026_1_by_default() -> None:
    assert SlaSettings().sla_policy_version == DEFAULT_POLICY_VERSION == "2026.1"


def test_a_sign_in_problem_by_email_is_due_24_hours_later_and_breaches_then(book: SlaBook):
    first, resolution = book.apply(
        CaseHistory().opened(FRIDAY_15, channel="EMAIL", category=SIGN_IN)
    )

    # The first response keeps e-mail's 24 h on working days: Monday 15:00.
    assert (first.target, first.due) == (FR, msk(2026, 3, 16, 15, 0))
    # Resolution: 24 h on the wall clock, Saturday 15:00 (a plain e-mail: Wednesday's end).
    assert (resolution.target, resolution.due) == (RES, FRIDAY_15 + 24 * HOUR)
    assert resolution.warn_at == FRIDAY_15 + 24 * HOUR * 8 // 10
    assert {fact.policy_version for fact in (first, resolution)} == {"2026.1"}

    assert [f.kind for f in book.advance(FRIDAY_15 + 24 * HOUR)] == [SlaKind.WARNING]
    (breach,) = book.advance(FRIDAY_15 + 24 * HOUR + 1)
    assert (breach.kind, breach.target, breach.at) == (SlaKind.BREACHED, RES, FRIDAY_15 + 24 * HOUR)
    assert breach.policy_version == "2026.1"


def test_the_category_target_keeps_counting_on_the_wall_clock_after_a_pause(book: SlaBook):
    case = CaseHistory()
    book.apply(case.opened(FRIDAY_15, channel="EMAIL", category=SIGN_IN))
    book.apply(case.status(FRIDAY_15 + HOUR, "REGISTERED", "IN_PROGRESS"))

    # Paused Friday 20:00 after 5 h: 19 h remain, of wall-clock time, not of working days.
    (paused,) = book.apply(case.status(FRIDAY_15 + 5 * HOUR, "IN_PROGRESS", "WAITING_FOR_CITIZEN"))
    assert (paused.target, paused.remaining) == (RES, 19 * HOUR)
    # Resumed Sunday 10:00 (a day off, which the wall clock counts): due Monday 05:00.
    (resumed,) = book.apply(
        case.status(msk(2026, 3, 15, 10, 0), "WAITING_FOR_CITIZEN", "IN_PROGRESS", True)
    )
    assert resumed.due == msk(2026, 3, 16, 5, 0)


def test_other_categories_keep_the_channel_targets(book: SlaBook):
    (_, resolution) = book.apply(
        CaseHistory().opened(FRIDAY_15, channel="EMAIL", category="TECHNICAL_FAULT")
    )

    # 3 working days: Monday, Tuesday, Wednesday -> Wednesday 24:00.
    assert resolution.due == msk(2026, 3, 19, 0, 0)


def test_a_sign_in_chat_keeps_its_sooner_2_hours(book: SlaBook):
    (_, resolution) = book.apply(
        CaseHistory().opened(FRIDAY_15, channel="PORTAL_CHAT", category=SIGN_IN)
    )

    assert resolution.due == FRIDAY_15 + 2 * HOUR


def test_a_social_case_on_a_holiday_is_answered_on_the_wall_clock(book: SlaBook):
    # Saturday 3 January 2026, inside the New Year holidays, 10:00.
    opened = msk(2026, 1, 3, 10, 0)
    first, _ = book.apply(CaseHistory().opened(opened, channel="SOCIAL"))

    assert first.due == msk(2026, 1, 3, 12, 0)
    facts = book.advance(msk(2026, 1, 3, 12, 0) + 1)
    assert [(f.kind, f.target, f.at) for f in facts] == [
        (SlaKind.WARNING, FR, opened + 96 * MINUTE),
        (SlaKind.BREACHED, FR, msk(2026, 1, 3, 12, 0)),
    ]


def test_the_same_social_case_under_2023_1_waits_for_the_first_working_day():
    book = SlaBook(PolicyRegistry("2023.1"))

    first, _ = book.apply(CaseHistory().opened(msk(2026, 1, 3, 10, 0), channel="SOCIAL"))

    # 2 business hours from Monday 12 January 09:00; the category changes nothing under 2023.1.
    assert (first.due, first.policy_version) == (msk(2026, 1, 12, 11, 0), "2023.1")
    (_, resolution) = book.apply(
        CaseHistory("case-2").opened(FRIDAY_15, channel="EMAIL", category=SIGN_IN)
    )
    assert resolution.due == msk(2026, 3, 19, 0, 0)
