"""The callbacks a PHONE case owes (domain/callbacks.py), in the case and in the index's row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.application import project_aggregate

from casedesk_case.adapters.readmodel.projector import project
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import CaseClosed, InvalidCommand, PreconditionFailed
from casedesk_case.domain.values import (
    CallbackPurpose,
    Channel,
    Citizen,
    EscalationReason,
    Status,
    Tier,
)

from .test_closing_rules import CITIZEN, case_of
from .test_lifecycle import CONTEXT, reply

THIRTY_MINUTES = timedelta(minutes=30)


def phone_case() -> Case:
    return case_of(Citizen(account_login="petrov"), Channel.PHONE)


def answer_by_phone(case: Case) -> None:
    case.change_status(Status.IN_PROGRESS, "", CONTEXT)
    reply(case)
    case.change_status(Status.ANSWER_READY, "", CONTEXT)


def test_a_phone_case_owes_the_thirty_minute_callback_from_its_registration() -> None:
    case = phone_case()
    assert case.callback is not None
    assert case.callback.purpose is CallbackPurpose.FIRST_RESPONSE
    assert case.callback.due == case.created_on + THIRTY_MINUTES


def test_other_channels_owe_no_callback_and_record_none() -> None:
    case = case_of(Citizen(account_login="petrov"), Channel.EMAIL)
    assert case.callback is None
    with pytest.raises(PreconditionFailed, match="came by EMAIL, not by PHONE"):
        case.record_callback(True, "", CONTEXT)


def test_a_callback_that_reached_the_citizen_settles_it_one_that_did_not_keeps_it() -> None:
    case = phone_case()
    owed = case.callback
    case.record_callback(False, "не берёт трубку", CONTEXT)
    recorded = case.pending_events[-1]
    assert isinstance(recorded, Case.CallbackRecorded)
    assert (recorded.reached, recorded.note) == (False, "не берёт трубку")
    assert case.callback == owed  # still owed, due as before
    case.record_callback(True, "объяснил, как войти", CONTEXT)
    assert case.callback is None


def test_the_answer_is_owed_by_a_call_keeping_an_earlier_due() -> None:
    case = phone_case()
    first_due = case.callback.due if case.callback else None
    answer_by_phone(case)  # the 30-minute callback was never made
    assert case.callback is not None
    assert (case.callback.purpose, case.callback.due) == (CallbackPurpose.ANSWER, first_due)
    assert case.waiting_for_reaction_since() is None  # he has not heard the answer yet
    case.record_callback(True, "сообщил ответ", CONTEXT)
    assert case.callback is None and case.waiting_for_reaction_since() == case.modified_on


def test_the_answers_call_is_due_thirty_minutes_after_the_answer() -> None:
    case = phone_case()
    case.record_callback(True, "", CONTEXT)
    answer_by_phone(case)
    ready = case.pending_events[-1]
    assert case.callback is not None
    assert case.callback.due == ready.timestamp + THIRTY_MINUTES


def test_an_escalation_asking_for_a_callback_owes_one_unless_one_is_owed() -> None:
    case = phone_case()
    case.record_callback(True, "", CONTEXT)
    case.escalate(Tier.L2, EscalationReason.UNSATISFYING_ANSWER, "", None, True, CONTEXT)
    escalated = case.pending_events[-1]
    assert case.callback is not None
    assert case.callback.purpose is CallbackPurpose.ESCALATION
    assert case.callback.due == escalated.timestamp + THIRTY_MINUTES
    again = phone_case()
    first = again.callback
    again.escalate(Tier.L2, EscalationReason.UNSATISFYING_ANSWER, "", None, True, CONTEXT)
    assert again.callback == first  # the call owed serves both


def test_a_closed_case_owes_nothing_and_takes_no_callback() -> None:
    case = phone_case()
    case.close_as_spam("розыгрыш", CONTEXT)
    assert case.callback is None
    with pytest.raises(CaseClosed, match="record a callback"):
        case.record_callback(True, "", CONTEXT)


def test_a_note_is_at_most_ten_thousand_characters() -> None:
    with pytest.raises(InvalidCommand) as refused:
        phone_case().record_callback(False, "x" * 10_001, CONTEXT)
    assert refused.value.field == "note"


def test_the_index_row_owes_what_the_case_owes() -> None:
    """The projector follows the same rules, event by event (ListCases callback_owed)."""
    case = phone_case()
    case.record_callback(False, "", CONTEXT)
    answer_by_phone(case)
    case.comment("c9", "спасибо", True, [], CITIZEN)
    case.escalate(Tier.L2, EscalationReason.UNSATISFYING_ANSWER, "", None, True, CONTEXT)
    case.record_callback(True, "", CONTEXT)
    events = list(case.collect_events())
    row = None
    owed = []
    for count, event in enumerate(events, start=1):
        row = project(row, event)
        assert row is not None
        state = project_aggregate(None, events[:count])
        assert isinstance(state, Case) and row.callback == state.callback
        owed.append(row.callback)
    assert [o.purpose if o else None for o in owed] == [
        CallbackPurpose.FIRST_RESPONSE,  # Created
        CallbackPurpose.FIRST_RESPONSE,  # not reached
        CallbackPurpose.FIRST_RESPONSE,  # in progress
        CallbackPurpose.FIRST_RESPONSE,  # the reply
        CallbackPurpose.ANSWER,  # «Ответ готов»
        CallbackPurpose.ANSWER,  # the citizen's comment
        CallbackPurpose.ANSWER,  # escalated: the call owed serves
        None,  # reached
    ]
