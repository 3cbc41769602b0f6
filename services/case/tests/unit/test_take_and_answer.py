"""Taking a case makes it the specialist's; «Ответ готов» needs an answer (domain rules)."""

from __future__ import annotations

import pytest

from casedesk_case.domain.assignment import Roster, Specialist
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import (
    AnswerMissing,
    CaseClosed,
    IllegalTransition,
    NotPermitted,
    PreconditionFailed,
)
from casedesk_case.domain.person_rules import Person, Role, check_may_take
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    EscalationReason,
    EventContext,
    Status,
    Tier,
)

from .test_lifecycle import CONTEXT, case_in, new_case

IVANOVA = EventContext(Actor(ActorKind.SPECIALIST, "l1.ivanova"))
CITIZEN = EventContext(Actor(ActorKind.CITIZEN, "petrov"))
SYSTEM = EventContext(Actor(ActorKind.SYSTEM, "intake"))
MISSING = (
    r"^case 2026-0000001 cannot be marked ANSWER_READY \(«Ответ готов»\): there is no answer to "
)


def recorded(case: Case) -> list[tuple[str, ...]]:
    """The events a command left pending, by kind and what matters of each."""
    out: list[tuple[str, ...]] = []
    for e in case.pending_events:
        if isinstance(e, Case.Assigned):
            out.append(("Assigned", e.specialist_id, e.previous_specialist_id))
        elif isinstance(e, Case.StatusChanged):
            out.append(("StatusChanged", e.from_status.value, e.to_status.value))
    return out


def fresh(status: Status, assignee: str = "l1-001") -> Case:
    """A case in `status` assigned by the roster, its events so far already collected."""
    case = case_in(status)
    if assignee:
        case.assign(assignee, case.queue, CONTEXT)
    case.collect_events()
    return case


# -- take ------------------------------------------------------------------------------------


def test_taking_a_registered_case_assigns_it_then_moves_it_in_work() -> None:
    case = fresh(Status.REGISTERED)
    case.take("l1.ivanova", "беру", IVANOVA)
    assert (case.assignee, case.status) == ("l1.ivanova", Status.IN_PROGRESS)
    assert recorded(case) == [
        ("Assigned", "l1.ivanova", "l1-001"),
        ("StatusChanged", "REGISTERED", "IN_PROGRESS"),
    ]
    assert all(e.context == IVANOVA for e in case.pending_events)


def test_taking_a_case_already_assigned_to_me_only_moves_it() -> None:
    case = fresh(Status.WAITING_FOR_CITIZEN, assignee="l1.ivanova")
    case.take("l1.ivanova", "", IVANOVA)
    assert recorded(case) == [("StatusChanged", "WAITING_FOR_CITIZEN", "IN_PROGRESS")]


def test_taking_over_a_case_in_progress_only_assigns_it() -> None:
    # An escalated or reassigned case stays IN_PROGRESS: taking it makes it mine.
    case = fresh(Status.IN_PROGRESS)
    case.take("l1.ivanova", "", IVANOVA)
    assert recorded(case) == [("Assigned", "l1.ivanova", "l1-001")]
    assert case.status is Status.IN_PROGRESS


def test_taking_my_own_case_in_progress_again_is_refused() -> None:
    case = fresh(Status.IN_PROGRESS, assignee="l1.ivanova")
    with pytest.raises(PreconditionFailed) as refused:
        case.take("l1.ivanova", "", IVANOVA)
    assert str(refused.value) == (
        "case 2026-0000001 is already IN_PROGRESS and assigned to l1.ivanova"
    )
    assert case.pending_events == []


def test_an_answered_case_is_not_taken_and_a_closed_one_says_so() -> None:
    answered = fresh(Status.ANSWER_READY)
    with pytest.raises(
        IllegalTransition, match="from ANSWER_READY to IN_PROGRESS; allowed: CLOSED"
    ):
        answered.take("l1.ivanova", "", IVANOVA)
    closed = fresh(Status.CLOSED, assignee="")
    with pytest.raises(CaseClosed, match="cannot take it in work; the citizen repeats the case"):
        closed.take("l1.ivanova", "", IVANOVA)
    assert answered.pending_events == [] and closed.pending_events == []


ROSTER = Roster(specialists=(Specialist("l1-001", Tier.L1, frozenset({"l1-general"})),))


@pytest.mark.parametrize(
    ("assignee", "holder"),
    [("", ""), ("l1-001", ""), ("l1.petrova", "l1.petrova")],
    ids=["unassigned", "by-the-roster", "a-person"],
)
def test_a_case_is_a_persons_only_when_not_assigned_by_the_roster(
    assignee: str, holder: str
) -> None:
    assert ROSTER.person_holder(assignee) == holder


SPECIALIST = Person("l1.ivanova", frozenset({Role.SPECIALIST}), Tier.L1)
SUPERVISOR = Person("super.orlova", frozenset({Role.SUPERVISOR, Role.SPECIALIST}), Tier.L3)


@pytest.mark.parametrize("holder", ["", "l1.ivanova"])
def test_a_free_case_or_my_own_may_be_taken(holder: str) -> None:
    check_may_take(SPECIALIST, "2026-0000001", holder)


def test_another_persons_case_is_refused_with_the_rule() -> None:
    with pytest.raises(NotPermitted) as refused:
        check_may_take(SPECIALIST, "2026-0000001", "l1.petrova")
    assert str(refused.value) == (
        "l1.ivanova (L1) may not take case 2026-0000001: it is in work with l1.petrova; "
        "a supervisor reassigns it or takes it over"
    )


def test_a_supervisor_takes_over_another_persons_case() -> None:
    check_may_take(SUPERVISOR, "2026-0000001", "l1.petrova")


# -- «Ответ готов» ---------------------------------------------------------------------------


def in_progress() -> Case:
    return fresh(Status.IN_PROGRESS, assignee="l1.ivanova")


def test_a_case_without_any_reply_is_not_answered() -> None:
    case = in_progress()
    with pytest.raises(AnswerMissing, match=MISSING + "the citizen's request yet; a specialist's"):
        case.change_status(Status.ANSWER_READY, "", IVANOVA)
    assert case.pending_events == [] and case.status is Status.IN_PROGRESS


def test_the_message_names_what_is_missing_and_how_to_give_it() -> None:
    with pytest.raises(AnswerMissing) as refused:
        in_progress().change_status(Status.ANSWER_READY, "", IVANOVA)
    assert str(refused.value).endswith(
        "a specialist's public reply (AddComment with public=true; an internal note is not one) "
        "must come after it"
    )


@pytest.mark.parametrize(
    ("author", "public"), [(IVANOVA, False), (SYSTEM, True)], ids=["internal-note", "system"]
)
def test_an_internal_note_or_a_system_comment_is_no_answer(
    author: EventContext, public: bool
) -> None:
    case = in_progress()
    case.comment("c1", "текст", public, [], author)
    with pytest.raises(AnswerMissing, match="the citizen's request"):
        case.change_status(Status.ANSWER_READY, "", IVANOVA)


def test_a_specialists_public_reply_answers() -> None:
    case = in_progress()
    case.comment("c1", "Код отправлен повторно", True, [], IVANOVA)
    case.change_status(Status.ANSWER_READY, "", IVANOVA)
    assert case.status is Status.ANSWER_READY


def test_a_citizen_comment_after_the_reply_needs_a_new_one() -> None:
    case = in_progress()
    case.comment("c1", "Код отправлен повторно", True, [], IVANOVA)
    case.comment("c2", "Код так и не пришёл", True, [], CITIZEN)
    with pytest.raises(AnswerMissing, match="the citizen's latest comment"):
        case.change_status(Status.ANSWER_READY, "", IVANOVA)
    case.comment("c3", "Проверьте номер в профиле", True, [], IVANOVA)
    case.change_status(Status.ANSWER_READY, "", IVANOVA)


def test_a_clarification_question_is_not_the_answer() -> None:
    case = in_progress()
    case.comment("c1", "Какой номер указан в профиле?", True, [], IVANOVA)
    case.change_status(Status.WAITING_FOR_CITIZEN, "уточнение", IVANOVA)
    with pytest.raises(AnswerMissing, match="the clarification request"):
        case.change_status(Status.ANSWER_READY, "", IVANOVA)
    # The citizen never replies: an answer given meanwhile readies the case from waiting.
    case.comment("c2", "Обновите номер в профиле", True, [], IVANOVA)
    case.change_status(Status.ANSWER_READY, "", IVANOVA)
    assert case.status is Status.ANSWER_READY


def test_an_escalation_needs_the_higher_tiers_answer() -> None:
    case = in_progress()
    case.comment("c1", "Передано специалистам второй линии", True, [], IVANOVA)
    case.escalate(Tier.L2, EscalationReason.CRITICAL_ERROR, "", None, False, SYSTEM)
    with pytest.raises(AnswerMissing, match="the escalation to L2"):
        case.change_status(Status.ANSWER_READY, "", IVANOVA)


def test_taking_over_does_not_discard_the_reply_the_citizen_has() -> None:
    case = in_progress()
    case.comment("c1", "Код отправлен повторно", True, [], IVANOVA)
    petrova = EventContext(Actor(ActorKind.SPECIALIST, "l1.petrova"))
    case.assign("l1-001", case.queue, CONTEXT)  # a supervisor hands it back to the roster
    case.take("l1.petrova", "", petrova)
    case.change_status(Status.ANSWER_READY, "", petrova)


def test_a_case_restored_from_an_older_snapshot_counts_as_unanswered() -> None:
    case = new_case()
    case.comment("c1", "Ответ", True, [], IVANOVA)
    del case.__dict__["unanswered"]  # a snapshot taken before the rule existed has no such field
    case.change_status(Status.IN_PROGRESS, "", IVANOVA)
    with pytest.raises(AnswerMissing, match="the citizen's request"):
        case.change_status(Status.ANSWER_READY, "", IVANOVA)
