"""The end of a case on the wire: the new events as CaseEvent envelopes, close reasons both ways,
and a StatusChanged stored before close reasons existed."""

from __future__ import annotations

import pytest
from eventsourcing.application import project_aggregate

from casedesk.case.v1 import events_pb2
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import Channel, CloseReason, Status
from casedesk_case.wire.enums import close_reason_from_proto, close_reason_to_proto
from casedesk_case.wire.events import event_type, to_case_event

from .test_closing_rules import CITIZEN, answered, case_of
from .test_lifecycle import CONTEXT, case_in, new_case


@pytest.mark.parametrize("reason", list(CloseReason))
def test_every_close_reason_maps_to_its_number_and_back(reason: CloseReason) -> None:
    number = close_reason_to_proto(reason)
    assert events_pb2.CloseReason.Name(number) == reason.value
    assert close_reason_from_proto(number, "reason") is reason


def test_no_close_reason_is_zero_and_an_unknown_number_is_refused() -> None:
    assert close_reason_to_proto(None) == 0 and close_reason_from_proto(0, "reason") is None
    with pytest.raises(InvalidCommand) as refused:
        close_reason_from_proto(99, "reason")
    assert refused.value.field == "reason"


def test_the_new_events_travel_with_their_fields() -> None:
    duplicate, target = new_case(), answered()
    target.rate_answer(2, "долго", Channel.EMAIL, CITIZEN)
    duplicate.merge_into(target, "повтор", CONTEXT)
    phone = case_of(duplicate.citizen, Channel.PHONE)
    phone.record_callback(True, "дозвонился", CONTEXT)
    rated, taken = (to_case_event(e) for e in target.pending_events[-2:])
    into, closed = (to_case_event(e) for e in duplicate.pending_events[-2:])
    called = to_case_event(phone.pending_events[-1])
    assert (rated.answer_rated.score, rated.answer_rated.comment) == (2, "долго")
    assert rated.meta.event_type == "case.AnswerRated"
    assert taken.duplicate_merged.duplicate_case_id == str(duplicate.id)
    assert (into.merged_into.target_number, into.merged_into.reason) == (target.number, "повтор")
    assert closed.status_changed.close_reason == events_pb2.DUPLICATE
    assert (called.callback_recorded.reached, called.callback_recorded.note) == (True, "дозвонился")
    assert event_type(phone.pending_events[-1]) == "case.CallbackRecorded"


def test_a_status_change_stored_before_close_reasons_has_none() -> None:
    case = case_in(Status.CLOSED)
    events = list(case.collect_events())
    closing = events[-1]
    assert isinstance(closing, Case.StatusChanged)
    del closing.__dict__["close_reason"]  # as the mapper rebuilds an event stored before it
    assert to_case_event(closing).status_changed.close_reason == 0
    rebuilt = project_aggregate(None, events)
    assert isinstance(rebuilt, Case)
    assert (rebuilt.status, rebuilt.close_reason) == (Status.CLOSED, None)
