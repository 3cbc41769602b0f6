"""The Case aggregate's rules besides the lifecycle: comments, repeat, escalation, attachments."""

from __future__ import annotations

import pytest

from casedesk_case.domain.case import Case, comment_of
from casedesk_case.domain.errors import CaseClosed, InvalidCommand, PreconditionFailed
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    Attachment,
    EscalationReason,
    EventContext,
    Priority,
    Status,
    Tier,
)

from .test_lifecycle import CONTEXT, case_in, new_case

CITIZEN = EventContext(Actor(ActorKind.CITIZEN, "petrov"))
PDF = Attachment("att-1", "скан.pdf", "application/pdf", 1024, "ab" * 32)


def test_comment_on_a_closed_case_is_refused_pointing_to_repeat() -> None:
    case = case_in(Status.CLOSED)
    with pytest.raises(CaseClosed, match="repeats the case instead"):
        case.comment("c1", "ещё вопрос", True, [], CITIZEN)


def test_citizen_cannot_write_an_internal_note() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_case().comment("c1", "текст", False, [], CITIZEN)
    assert refused.value.field == "public"


def test_specialist_internal_note_is_kept_private() -> None:
    case = case_in(Status.IN_PROGRESS)
    case.comment("c1", "проверить логи", False, [PDF], CONTEXT)
    recorded = case.pending_events[-1]
    comment = comment_of(recorded)
    assert (comment.public, comment.author, comment.attachments) == (False, CONTEXT.actor, (PDF,))
    assert (comment.body, comment.at) == ("проверить логи", recorded.timestamp)
    assert case.comment_count == 1


def test_citizen_answer_to_a_clarification_resumes_the_work() -> None:
    case = case_in(Status.WAITING_FOR_CITIZEN)
    case.comment("c1", "вот номер заявления", True, [], CITIZEN)
    commented, resumed = case.pending_events[-2:]
    assert isinstance(commented, Case.Commented)
    assert isinstance(resumed, Case.StatusChanged)
    assert (resumed.from_status, resumed.to_status) == (
        Status.WAITING_FOR_CITIZEN,
        Status.IN_PROGRESS,
    )
    assert case.status is Status.IN_PROGRESS


def test_specialist_comment_while_waiting_does_not_resume() -> None:
    case = case_in(Status.WAITING_FOR_CITIZEN)
    case.comment("c1", "напоминание", True, [], CONTEXT)
    assert case.status is Status.WAITING_FOR_CITIZEN


@pytest.mark.parametrize("status", [Status.ANSWER_READY, Status.CLOSED])
def test_answered_case_can_be_repeated(status: Status) -> None:
    case = case_in(status)
    case.record_repeat("new-id", "2026-0000002", "ответ не помог", CITIZEN)
    assert case.repeated_by == ["new-id"]
    assert isinstance(case.pending_events[-1], Case.Repeated)


@pytest.mark.parametrize(
    "status", [Status.REGISTERED, Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN]
)
def test_unanswered_case_cannot_be_repeated(status: Status) -> None:
    with pytest.raises(PreconditionFailed, match="only an answered case"):
        case_in(status).record_repeat("new-id", "2026-0000002", "", CITIZEN)


def test_escalation_moves_up_and_raises_priority() -> None:
    case = case_in(Status.IN_PROGRESS)
    case.escalate(
        Tier.L2, EscalationReason.RESOLUTION_BREACH, "breach-1", Priority.HIGH, True, CONTEXT
    )
    escalated = case.pending_events[-1]
    assert isinstance(escalated, Case.Escalated)
    assert (escalated.from_tier, escalated.to_tier, escalated.callback_required) == (
        Tier.L1,
        Tier.L2,
        True,
    )
    assert (case.tier, case.priority) == (Tier.L2, Priority.HIGH)


@pytest.mark.parametrize("target", [Tier.L1, Tier.L2])
def test_escalation_must_go_higher(target: Tier) -> None:
    case = case_in(Status.IN_PROGRESS)
    case.escalate(Tier.L2, EscalationReason.CRITICAL_ERROR, "", None, False, CONTEXT)
    with pytest.raises(PreconditionFailed, match="higher tier than L2"):
        case.escalate(target, EscalationReason.CRITICAL_ERROR, "", None, False, CONTEXT)


def test_closed_case_cannot_be_escalated_assigned_or_extended() -> None:
    case = case_in(Status.CLOSED)
    with pytest.raises(CaseClosed):
        case.escalate(Tier.L3, EscalationReason.CRITICAL_ERROR, "", None, False, CONTEXT)
    with pytest.raises(CaseClosed):
        case.assign("l1-002", "l1-general", CONTEXT)
    with pytest.raises(CaseClosed):
        case.add_attachment(PDF, CITIZEN)
    with pytest.raises(CaseClosed):
        case.request_escalation("r1", EscalationReason.NO_ANSWER_IN_TIME, "", CITIZEN)


def test_same_attachment_is_not_added_twice() -> None:
    case = new_case()
    case.add_attachment(PDF, CITIZEN)
    with pytest.raises(PreconditionFailed, match="already"):
        case.add_attachment(PDF, CITIZEN)


def test_assignment_records_the_previous_specialist_and_skips_no_change() -> None:
    case = new_case()
    case.assign("l1-001", "l1-general", CONTEXT)
    case.assign("l1-003", "l1-general", CONTEXT)
    assigned = case.pending_events[-1]
    assert isinstance(assigned, Case.Assigned)
    assert (assigned.specialist_id, assigned.previous_specialist_id, assigned.tier) == (
        "l1-003",
        "l1-001",
        Tier.L1,
    )
    version = case.version
    case.assign("l1-003", "l1-general", CONTEXT)
    assert case.version == version


def test_every_event_carries_the_command_context() -> None:
    case = case_in(Status.IN_PROGRESS)
    assert all(event.context == CONTEXT for event in case.pending_events)
