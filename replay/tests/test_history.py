from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from casedesk.case.v1.events_pb2 import CaseEvent
from casedesk.notification.v1 import events_pb2 as ne
from casedesk_replay.history import CaseRef, CaseTimeline, NumberLookup, parse_case_ref
from casedesk_replay.topics import Stream
from casedesk_replay.wire import to_micros
from casedesk_replay_testing.synthetic.builders import CaseEvents, msk, notification_event

START = msk(2025, 10, 20, 10, 0)
H = timedelta(hours=1)


def story() -> tuple[CaseEvents, list[CaseEvent]]:
    case = CaseEvents()
    events = [
        case.created(START, "EMAIL"),
        case.move(START + H, "IN_PROGRESS"),
        case.move(START + 2 * H, "WAITING_FOR_CITIZEN"),
        case.move(START + 5 * H, "IN_PROGRESS", actor="citizen"),
        case.move(START + 8 * H, "ANSWER_READY"),
    ]
    other = CaseEvents(case_id="another-case")
    return case, [*events, other.created(START, "PHONE")]


def view_at(hours: float | None) -> dict[str, Any]:
    case, events = story()
    as_of = to_micros(START + hours * H) if hours is not None else None
    timeline = CaseTimeline(case.case_id, as_of)
    timeline.apply(Stream.CASE, events)
    view = timeline.view()
    assert view is not None
    return view


def test_the_case_as_of_a_moment_ignores_later_events_and_other_cases() -> None:
    assert view_at(0.5)["status"] == "REGISTERED"
    assert view_at(3)["status"] == "WAITING_FOR_CITIZEN"
    assert view_at(3)["version"] == 3
    assert view_at(None)["status"] == "ANSWER_READY"
    assert [line["summary"] for line in view_at(3)["history"]] == [
        "",
        "REGISTERED -> IN_PROGRESS",
        "IN_PROGRESS -> WAITING_FOR_CITIZEN",
    ]


def test_the_view_masks_the_citizen() -> None:
    view = view_at(None)
    assert view["citizen"]["mobile_phone"] == "+***67"
    assert view["citizen"]["email"] == "i***@example.ru"
    assert view["citizen"]["account_login"] == "i***"
    assert view["citizen"]["has_snils"] == "true"
    assert "79161234567" not in view["subject"]
    assert view["history"][3]["actor"] == "CITIZEN:i***"
    assert "ivanov" not in repr(view) and "Иванов" not in repr(view)


def test_notifications_of_the_case_are_listed_up_to_the_moment() -> None:
    case, events = story()
    timeline = CaseTimeline(case.case_id, to_micros(START + H))
    timeline.apply(Stream.CASE, events)
    note = notification_event("n-1", START + 0.5 * H, requested=ne.Requested())
    note.meta.case_id = case.case_id
    late = notification_event("n-2", START + 9 * H, requested=ne.Requested())
    late.meta.case_id = case.case_id
    timeline.apply(Stream.NOTIFICATION, [note, late])
    view = timeline.view()
    assert view is not None
    assert [n["state"] for n in view["notifications"]] == ["REQUESTED"]


def test_an_unknown_case_has_no_view() -> None:
    timeline = CaseTimeline("nobody")
    timeline.apply(Stream.CASE, story()[1])
    assert timeline.view() is None


def test_case_references_are_ids_or_numbers() -> None:
    case_id = "4f1c2d3e-0000-4000-8000-000000000001"
    assert parse_case_ref(case_id.upper()) == CaseRef(case_id=case_id)
    assert parse_case_ref("2026-0001234") == CaseRef(number="2026-0001234")
    with pytest.raises(ValueError, match="neither a case id nor a number"):
        parse_case_ref("case 17")


def test_a_number_is_found_by_the_case_that_was_registered_with_it() -> None:
    lookup = NumberLookup("2025-0000002")
    first, second = CaseEvents(case_id="first"), CaseEvents(case_id="second")
    lookup.apply(Stream.SLA, [])
    lookup.apply(Stream.CASE, [first.created(START, number="2025-0000001")])
    assert lookup.case_id is None
    lookup.apply(Stream.CASE, [second.created(START, number="2025-0000002")])
    assert lookup.case_id == "second"
