from __future__ import annotations

from datetime import timedelta

from casedesk.case.v1.events_pb2 import CaseEvent
from casedesk_replay.projections import ReplayState
from casedesk_replay.topics import Stream
from casedesk_replay.wire import to_micros
from casedesk_replay_testing.synthetic import Scenario
from casedesk_replay_testing.synthetic.builders import MINUTE, T0, CaseEvents


def fold(*events: CaseEvent) -> ReplayState:
    state = ReplayState()
    state.apply(Stream.CASE, list(events))
    return state


def test_created_case_becomes_a_row_without_personal_data(case: CaseEvents) -> None:
    state = fold(case.created(T0, channel="PHONE", number="2025-0000042"))
    row = state.cases.rows[case.case_id]
    assert row["number"] == "2025-0000042"
    assert (row["channel"], row["category"], row["tier"], row["status"]) == (
        "PHONE", "TECHNICAL_FAULT", "L1", "REGISTERED",
    )  # fmt: skip
    assert row["registered_at"] == to_micros(T0)
    assert row["created_seen"] is True
    flat = repr(row)
    assert "ivanov" not in flat and "79161234567" not in flat and "Иванов" not in flat


def test_status_changes_are_recorded_with_resolution_and_closing_instants(case: CaseEvents) -> None:
    events = [
        case.created(T0),
        case.move(T0 + 10 * MINUTE, "IN_PROGRESS"),
        case.move(T0 + 20 * MINUTE, "ANSWER_READY"),
        case.move(T0 + 30 * MINUTE, "CLOSED", actor="system"),
    ]
    state = fold(*events)
    row = state.cases.rows[case.case_id]
    assert row["status"] == "CLOSED"
    assert row["resolved_at"] == to_micros(T0 + 20 * MINUTE)
    assert row["closed_at"] == to_micros(T0 + 30 * MINUTE)
    assert [t[3:5] for t in state.cases.transitions] == [
        ("REGISTERED", "IN_PROGRESS"),
        ("IN_PROGRESS", "ANSWER_READY"),
        ("ANSWER_READY", "CLOSED"),
    ]
    assert state.cases.transitions[0][5] == "SPECIALIST"


def test_first_response_is_the_first_public_specialist_reply(case: CaseEvents) -> None:
    state = fold(
        case.created(T0),
        case.comment(T0 + MINUTE, public=False),  # an internal note answers nobody
        case.comment(T0 + 2 * MINUTE, actor="citizen"),  # nor does the citizen
        case.comment(T0 + 3 * MINUTE),
        case.move(T0 + 4 * MINUTE, "IN_PROGRESS"),
    )
    row = state.cases.rows[case.case_id]
    assert row["first_response_at"] == to_micros(T0 + 3 * MINUTE)
    assert (row["internal_notes"], row["citizen_comments"], row["public_replies"]) == (1, 1, 1)


def test_a_status_change_by_the_citizen_is_no_first_response(case: CaseEvents) -> None:
    case.current_status = 3  # WAITING_FOR_CITIZEN, as if the earlier events were outside the range
    state = fold(case.created(T0), case.move(T0 + MINUTE, "IN_PROGRESS", actor="citizen"))
    assert state.cases.rows[case.case_id]["first_response_at"] is None


def test_republished_events_are_counted_once(case: CaseEvents) -> None:
    created = case.created(T0)
    moved = case.move(T0 + MINUTE, "IN_PROGRESS")
    state = fold(created, moved, created, moved)
    assert len(state.cases.transitions) == 1
    assert state.cases.duplicates == 2
    assert state.events["case"] == 4


def test_escalation_raises_the_tier_and_is_logged(case: CaseEvents) -> None:
    state = fold(case.created(T0), case.requested(T0 + MINUTE), case.escalated(T0 + 2 * MINUTE))
    row = state.cases.rows[case.case_id]
    assert (row["tier"], row["initial_tier"], row["priority"]) == ("L2", "L1", "HIGH")
    assert (row["escalations"], row["escalation_requests"]) == (1, 1)
    assert [(e.source, e.reason, e.to_tier) for e in state.escalations.rows] == [
        ("REQUESTED", "UNSATISFYING_ANSWER", ""),
        ("ESCALATED", "RESOLUTION_BREACH", "L2"),
    ]


def test_events_of_a_case_created_before_the_range_make_a_partial_row(case: CaseEvents) -> None:
    case.created(T0 - timedelta(days=30))
    case.current_status = 2
    state = fold(case.move(T0, "ANSWER_READY"))
    row = state.cases.rows[case.case_id]
    assert row["created_seen"] is False
    assert (row["status"], row["channel"], row["version"]) == ("ANSWER_READY", "", 2)


def test_synthetic_stream_statuses_match_what_was_produced(scenario: Scenario) -> None:
    state = fold(*scenario.case_events)
    statuses: dict[str, int] = {}
    for row in state.cases.rows.values():
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    assert statuses == dict(scenario.expected.statuses)
    assert len(state.cases.transitions) == scenario.expected.transitions
    assert sum(bool(row["repeat_of"]) for row in state.cases.rows.values()) == (
        scenario.expected.repeats
    )
