"""The life of SLA clocks, driven by case facts and an injected clock."""

from __future__ import annotations

from sla_builders import MINUTE, SECOND, T0, CaseHistory

from casedesk_sla.domain import SlaBook, SlaKind
from casedesk_sla.testing import ManualClock
from casedesk_vocabulary.enums import DeadlineTarget

FR, RES = DeadlineTarget.FIRST_RESPONSE, DeadlineTarget.RESOLUTION


def kinds(facts):
    return [(f.kind, f.target) for f in facts]


def test_created_chat_case_starts_both_clocks_with_due_and_warning_instants(seconds_book: SlaBook):
    facts = seconds_book.apply(CaseHistory().opened(T0))

    assert kinds(facts) == [(SlaKind.STARTED, FR), (SlaKind.STARTED, RES)]
    first, resolution = facts
    assert (first.due - T0, first.warn_at - T0) == (4 * SECOND, 3_200_000)
    assert (resolution.due - T0, resolution.warn_at - T0) == (8 * SECOND, 6_400_000)
    assert {f.policy_version for f in facts} == {"test-seconds"}
    assert all(f.calendar_version.startswith("RU/") for f in facts)


def test_mfc_case_has_no_first_response_clock(regulation_book: SlaBook):
    facts = regulation_book.apply(CaseHistory().opened(T0, channel="MFC"))

    assert kinds(facts) == [(SlaKind.STARTED, RES)]


def test_warning_then_breach_fire_at_their_instants(seconds_book: SlaBook, clock: ManualClock):
    seconds_book.apply(CaseHistory().opened(T0))

    clock.set(T0 + 3_200_000)
    assert seconds_book.advance(clock.now()) == []  # strictly before the instant: not yet
    clock.advance(1)
    assert kinds(seconds_book.advance(clock.now())) == [(SlaKind.WARNING, FR)]
    clock.set(T0 + 4 * SECOND + 1)
    (breach,) = seconds_book.advance(clock.now())
    assert (breach.kind, breach.target, breach.at, breach.tier) == (
        SlaKind.BREACHED,
        FR,
        T0 + 4 * SECOND,
        "L1",
    )
    clock.set(T0 + 60 * SECOND)
    assert kinds(seconds_book.advance(clock.now())) == [
        (SlaKind.WARNING, RES),
        (SlaKind.BREACHED, RES),
    ]
    assert seconds_book.advance(clock.now() + MINUTE) == []  # each exactly once


def test_warning_carries_the_elapsed_fraction(seconds_book: SlaBook):
    seconds_book.apply(CaseHistory().opened(T0))

    (warning,) = seconds_book.advance(T0 + 3_500_000)

    assert warning.elapsed_fraction == 0.8


def test_public_specialist_reply_meets_first_response_only(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))

    (met,) = seconds_book.apply(case.reply(T0 + 2 * SECOND))

    assert (met.kind, met.target, met.late, met.at) == (SlaKind.MET, FR, False, T0 + 2 * SECOND)
    assert kinds(seconds_book.advance(T0 + 10 * SECOND)) == [
        (SlaKind.WARNING, RES),
        (SlaKind.BREACHED, RES),
    ]


def test_status_change_meets_first_response(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))

    facts = seconds_book.apply(case.status(T0 + SECOND, "REGISTERED", "IN_PROGRESS"))

    assert kinds(facts) == [(SlaKind.MET, FR)]


def test_answer_ready_meets_both_and_late_after_breach(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))
    seconds_book.apply(case.status(T0 + SECOND, "REGISTERED", "IN_PROGRESS"))

    facts = seconds_book.apply(case.status(T0 + 9 * SECOND, "IN_PROGRESS", "ANSWER_READY"))

    # The resolution alarms that fell due before the answer fire first, then the late met.
    assert kinds(facts) == [(SlaKind.WARNING, RES), (SlaKind.BREACHED, RES), (SlaKind.MET, RES)]
    assert facts[-1].late is True
    assert len(seconds_book.table) == 0  # every clock ended: the case left memory


def test_met_exactly_at_due_is_not_late(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))

    facts = seconds_book.apply(case.reply(T0 + 4 * SECOND))

    assert kinds(facts) == [(SlaKind.WARNING, FR), (SlaKind.MET, FR)]
    assert facts[-1].late is False


def test_pause_keeps_remaining_time_and_resume_sets_new_due(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))
    seconds_book.apply(case.status(T0 + SECOND, "REGISTERED", "IN_PROGRESS"))

    (paused,) = seconds_book.apply(
        case.status(T0 + 2 * SECOND, "IN_PROGRESS", "WAITING_FOR_CITIZEN")
    )
    assert (paused.kind, paused.target, paused.remaining) == (SlaKind.PAUSED, RES, 6 * SECOND)
    assert seconds_book.advance(T0 + MINUTE) == []  # a paused clock never fires

    (resumed,) = seconds_book.apply(
        case.status(T0 + MINUTE, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
    )
    assert (resumed.kind, resumed.due) == (SlaKind.RESUMED, T0 + MINUTE + 6 * SECOND)
    assert resumed.warn_at == T0 + MINUTE + 4_400_000  # 80% of the 8 s budget spent
    facts = seconds_book.advance(T0 + MINUTE + 7 * SECOND)
    assert [(f.kind, f.at) for f in facts] == [
        (SlaKind.WARNING, T0 + MINUTE + 4_400_000),
        (SlaKind.BREACHED, T0 + MINUTE + 6 * SECOND),
    ]


def test_warning_already_given_is_not_repeated_after_resume(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))
    seconds_book.apply(case.reply(T0 + SECOND))
    seconds_book.advance(T0 + 7 * SECOND)  # resolution warning at 6.4 s
    seconds_book.apply(case.status(T0 + 7 * SECOND, "IN_PROGRESS", "WAITING_FOR_CITIZEN"))

    (resumed,) = seconds_book.apply(
        case.status(T0 + 20 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
    )

    assert resumed.warn_at is None
    assert kinds(seconds_book.advance(T0 + 30 * SECOND)) == [(SlaKind.BREACHED, RES)]


def test_citizen_status_change_is_no_first_response(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))

    facts = seconds_book.apply(case.status(T0 + SECOND, "IN_PROGRESS", "IN_PROGRESS", True))

    assert facts == []


def test_breach_carries_the_tier_after_escalation(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0, tier="L1"))
    seconds_book.apply(case.reply(T0 + SECOND))
    seconds_book.apply(case.tier(T0 + 2 * SECOND, "L2"))

    breaches = [f for f in seconds_book.advance(T0 + 9 * SECOND) if f.kind is SlaKind.BREACHED]

    assert [(b.target, b.tier) for b in breaches] == [(RES, "L2")]


def test_working_day_units_come_from_the_deadline_library(regulation_book: SlaBook):
    # Friday 2026-03-13 15:00 Moscow time (the Friday before, Monday 9 March was a holiday).
    friday_15_msk = T0 + 11 * 24 * 3600 * SECOND + 5 * 3600 * SECOND
    (first, _) = regulation_book.apply(CaseHistory().opened(friday_15_msk, channel="EMAIL"))

    # 24 h counted on working days: Friday 15:00 is due Monday 15:00.
    assert first.due - friday_15_msk == 3 * 24 * 3600 * SECOND
