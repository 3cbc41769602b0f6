"""Warnings and breaches stay in the trace of the case event that set their clock running."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sla_builders import SECOND, T0, CaseHistory

from casedesk_sla.domain import SlaBook, SlaKind, trace_context
from casedesk_vocabulary.enums import DeadlineTarget

FR, RES = DeadlineTarget.FIRST_RESPONSE, DeadlineTarget.RESOLUTION
CREATED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
RESUMED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
REPLIED = "00-11111111111111111111111111111111-2222222222222222-00"


def traced(fact, traceparent):
    return replace(fact, traceparent=traceparent)


def test_packed_context_gives_back_the_header():
    packed = trace_context.pack(CREATED)

    assert len(packed) == trace_context.SIZE
    assert trace_context.unpack(packed) == CREATED


def test_newer_version_is_read_by_its_first_fields_and_passed_on_as_00():
    newer = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-later"

    assert trace_context.unpack(trace_context.pack(newer)) == CREATED


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "00-test",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # 00 has no more
        "00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",  # misplaced dash
    ],
)
def test_anything_but_a_valid_traceparent_packs_to_none(header):
    assert trace_context.pack(header) == trace_context.NONE
    assert trace_context.unpack(trace_context.pack(header)) is None


def test_warning_and_breach_carry_the_trace_of_the_created(seconds_book: SlaBook):
    started = seconds_book.apply(traced(CaseHistory().opened(T0), CREATED))

    fired = seconds_book.advance(T0 + 9 * SECOND)

    assert {f.traceparent for f in started} == {CREATED}
    assert [f.kind for f in fired] == [SlaKind.WARNING, SlaKind.BREACHED] * 2
    assert {f.traceparent for f in fired} == {CREATED}


def test_after_a_resume_the_alarms_carry_the_trace_of_the_resuming_event(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(traced(case.opened(T0), CREATED))
    seconds_book.apply(case.status(T0 + SECOND, "REGISTERED", "IN_PROGRESS"))
    seconds_book.apply(case.status(T0 + 2 * SECOND, "IN_PROGRESS", "WAITING_FOR_CITIZEN"))
    resume = case.status(T0 + 10 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
    seconds_book.apply(traced(resume, RESUMED))

    fired = seconds_book.advance(T0 + 20 * SECOND)

    assert [(f.kind, f.target, f.traceparent) for f in fired] == [
        (SlaKind.WARNING, RES, RESUMED),
        (SlaKind.BREACHED, RES, RESUMED),
    ]


def test_a_resume_without_trace_context_keeps_the_one_kept(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(traced(case.opened(T0), CREATED))
    seconds_book.apply(case.status(T0 + SECOND, "REGISTERED", "WAITING_FOR_CITIZEN"))
    seconds_book.apply(
        case.status(T0 + 2 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
    )

    fired = seconds_book.advance(T0 + 20 * SECOND)

    assert fired and {f.traceparent for f in fired} == {CREATED}


def test_alarms_caught_up_before_a_later_event_keep_their_own_trace(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(traced(case.opened(T0), CREATED))

    facts = seconds_book.apply(traced(case.reply(T0 + 5 * SECOND), REPLIED))

    assert [(f.kind, f.traceparent) for f in facts] == [
        (SlaKind.WARNING, CREATED),
        (SlaKind.BREACHED, CREATED),
        (SlaKind.MET, REPLIED),
    ]


def test_a_reused_case_slot_does_not_inherit_the_previous_trace(seconds_book: SlaBook):
    first = CaseHistory("case-1")
    seconds_book.apply(traced(first.opened(T0), CREATED))
    seconds_book.apply(first.status(T0 + SECOND, "REGISTERED", "ANSWER_READY"))  # case retired

    seconds_book.apply(CaseHistory("case-2").opened(T0 + SECOND))
    assert seconds_book.table.find("case-2") == 0  # the index case-1 had
    fired = seconds_book.advance(T0 + 20 * SECOND)

    assert fired and {f.traceparent for f in fired} == {None}
