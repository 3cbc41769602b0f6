"""The case application on in-memory and SQLite persistence (PostgreSQL: tests/integration)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import (
    CaseNotFound,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidCommand,
    VersionConflict,
)
from casedesk_case.domain.values import Category, EscalationReason, Priority, Status, Tier
from casedesk_case.testing import CaseApplication

from ..conftest import CITIZEN, SPECIALIST, answer, create, meta


def test_create_registers_numbers_and_assigns_by_category(app: CaseApplication) -> None:
    first = create(app)
    second = create(app, category=Category.REGISTRATION_SIGN_IN)
    assert first.number.endswith("-0000001") and second.number.endswith("-0000002")
    assert app.get_case_by_number(first.number).case_id == first.case_id
    assert (first.status, first.tier, first.priority) == (
        Status.REGISTERED,
        Tier.L1,
        Priority.NORMAL,
    )
    assert first.queue == "l1-technical" and first.assignee in {"l1-004", "l1-005"}
    assert second.queue == "l1-sign-in" and second.assignee in {"l1-001", "l1-002"}
    events = app.history(first.case_id).events
    assert [type(e).__name__ for e in events] == ["Created", "Assigned"]


def test_idempotent_retry_returns_the_original_result(app: CaseApplication) -> None:
    original = create(app, meta=meta(key="intake-req-1"))
    retried = create(app, meta=meta(key="intake-req-1"))
    assert retried == original
    changed = app.change_status(
        original.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST, "k2")
    )
    again = app.change_status(
        original.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST, "k2")
    )
    assert again == changed and again.version == 3


def test_reusing_a_key_for_another_command_is_refused(app: CaseApplication) -> None:
    case = create(app, meta=meta(key="same"))
    with pytest.raises(IdempotencyKeyReused):
        app.change_status(
            case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(key="same")
        )


def test_expected_version_conflict(app: CaseApplication) -> None:
    case = create(app)
    with pytest.raises(VersionConflict):
        app.change_status(
            case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(expected=1)
        )
    moved = app.change_status(
        case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(expected=case.version)
    )
    assert moved.version == case.version + 1


def test_unknown_and_malformed_case_ids(app: CaseApplication) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(CaseNotFound):
        app.get_case(missing)
    with pytest.raises(CaseNotFound):
        app.get_case_by_number("2026-9999999")
    with pytest.raises(CaseNotFound):
        app.add_comment(missing, body="x", public=True, meta=meta(CITIZEN))
    with pytest.raises(InvalidCommand) as refused:
        app.get_case("not-a-uuid")
    assert refused.value.field == "case_id"


def test_illegal_transition_leaves_the_case_unchanged(app: CaseApplication) -> None:
    case = create(app)
    with pytest.raises(IllegalTransition, match="allowed: IN_PROGRESS"):
        app.change_status(case.case_id, to_status=Status.CLOSED, reason="", meta=meta(SPECIALIST))
    assert app.get_case(case.case_id).version == case.version


def answered(app: CaseApplication) -> str:
    case_id = create(app).case_id
    app.change_status(case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    answer(app, case_id)
    app.change_status(case_id, to_status=Status.ANSWER_READY, reason="", meta=meta(SPECIALIST))
    return case_id


def test_repeat_opens_a_linked_new_case(app: CaseApplication) -> None:
    original_id = answered(app)
    repeat = app.repeat_case(original_id, reason="ответ не помог", meta=meta(CITIZEN, "rep-1"))
    assert repeat.repeat_of == original_id and repeat.case_id != original_id
    assert repeat.content.description == "ответ не помог"
    original = app.get_case(original_id)
    assert original.repeated_by == (repeat.case_id,)
    last = app.history(original_id).events[-1]
    assert isinstance(last, Case.Repeated) and last.new_case_number == repeat.number
    assert (
        app.repeat_case(original_id, reason="ответ не помог", meta=meta(CITIZEN, "rep-1")) == repeat
    )


def test_escalation_reassigns_to_the_new_tiers_queue(app: CaseApplication) -> None:
    case = create(app)
    app.request_escalation(
        case.case_id, reason=EscalationReason.NO_ANSWER_IN_TIME, explanation="", meta=meta(CITIZEN)
    )
    escalated = app.escalate(
        case.case_id, to_tier=Tier.L2, reason=EscalationReason.NO_ANSWER_IN_TIME,
        cause_ref="req", priority=Priority.HIGH, meta=meta(),
    )  # fmt: skip
    assert (escalated.tier, escalated.queue, escalated.assignee) == (
        Tier.L2,
        "l2-technical",
        "l2-001",
    )
    kinds = [type(e).__name__ for e in app.history(case.case_id).events]
    assert kinds[-3:] == ["EscalationRequested", "Escalated", "Assigned"]


def test_manual_assignment_needs_a_known_specialist(app: CaseApplication) -> None:
    case = create(app)
    assert (
        app.assign(case.case_id, specialist_id="l1-005", meta=meta(SPECIALIST)).assignee == "l1-005"
    )
    with pytest.raises(InvalidCommand) as refused:
        app.assign(case.case_id, specialist_id="nobody", meta=meta(SPECIALIST))
    assert refused.value.field == "specialist_id"


def test_load_balances_new_cases_across_the_queue(app: CaseApplication) -> None:
    from casedesk_case.adapters.readmodel import CaseIndexProjector

    projector = CaseIndexProjector(app, app.index)
    assignees = []
    for _ in range(4):
        assignees.append(create(app).assignee)
        projector.catch_up()
    assert sorted(assignees) == ["l1-004", "l1-004", "l1-005", "l1-005"]
    assert app.index.loads(["l1-004", "l1-005"]) == {"l1-004": 2, "l1-005": 2}


def test_get_as_of_version_and_time(app: CaseApplication) -> None:
    case = create(app)
    before_work = datetime.now(UTC)
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    now = app.get_case(case.case_id)
    assert now.status is Status.IN_PROGRESS
    assert app.get_case(case.case_id, as_of_version=case.version).status is Status.REGISTERED
    assert app.get_case(case.case_id, as_of_time=before_work).status is Status.REGISTERED
    assert app.get_case(case.case_id, as_of_time=now.updated_at).status is Status.IN_PROGRESS
    with pytest.raises(CaseNotFound):
        app.get_case(case.case_id, as_of_time=case.registered_at - timedelta(seconds=1))
    assert app.get_case_by_number(case.number).case_id == case.case_id


def test_history_is_paged_by_version(app: CaseApplication) -> None:
    case_id = answered(app)  # Created, Assigned, StatusChanged, Commented, StatusChanged
    first = app.history(case_id, page_size=3)
    assert [e.originator_version for e in first.events] == [1, 2, 3]
    assert first.next_after_version == 3
    rest = app.history(case_id, after_version=3, page_size=3)
    assert [e.originator_version for e in rest.events] == [4, 5]
    assert rest.next_after_version == 0


def test_long_case_is_rebuilt_from_a_snapshot(app: CaseApplication) -> None:
    case_id = create(app).case_id
    app.change_status(case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    for n in range(60):
        app.add_comment(case_id, body=f"комментарий {n}", public=n % 2 == 0, meta=meta(SPECIALIST))
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(uuid.UUID(case_id)))
    assert [s.originator_version for s in snapshots] == [10, 20, 30, 40, 50, 60]
    # A version given bypasses the cache: snapshot 60 plus three events are replayed.
    view = app.get_case(case_id, as_of_version=63)
    assert view == app.get_case(case_id)
    assert len(view.comments) == 60 and view.comments[-1].body == "комментарий 59"


def test_the_store_reads_back_events_and_the_log_in_every_query_shape(
    app: CaseApplication,
) -> None:
    """The event store's queries, as the application, the relay and the index use them."""
    case_id = uuid.UUID(answered(app))  # Created, Assigned, StatusChanged, Commented, StatusChanged
    recorder = app.recorder

    def versions(**query: object) -> list[int]:
        return [e.originator_version for e in recorder.select_events(case_id, **query)]  # type: ignore[arg-type]

    assert versions() == [1, 2, 3, 4, 5]
    assert versions(gt=1, lte=3) == [2, 3]
    assert versions(desc=True, limit=2) == [5, 4]
    assert versions(gt=2, limit=1) == [3]
    stored = recorder.select_events(case_id, lte=1)[0]
    assert app.mapper.to_domain_event(stored).number == app.get_case(str(case_id)).number

    log = recorder.select_notifications(None, 1000)
    mine = [n for n in log if n.originator_id == case_id]
    assert [n.originator_version for n in mine] == [1, 2, 3, 4, 5]
    first = mine[0].id
    assert recorder.select_notifications(first, 1)[0].id == first
    after = recorder.select_notifications(first, 2, inclusive_of_start=False)
    assert [n.id for n in after] == [n.id for n in log if n.id > first][:2]
    topics = (Case.StatusChanged.TOPIC,)
    changes = recorder.select_notifications(first, 10, topics=topics, stop=mine[-1].id)
    assert [n.originator_version for n in changes] == [3, 5]
    assert recorder.max_notification_id() == log[-1].id
