"""The shared builder of case events: versions, envelope and payloads as the relay sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_runtime.events import from_timestamp
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_vocabulary.enums import (
    ActorKind,
    Channel,
    ContactChannel,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def test_versions_count_up_and_ids_derive_from_case_and_version() -> None:
    case = CaseStream("case-1", at=T0)
    story = [case.created(), case.status_changed(to=Status.IN_PROGRESS), case.commented()]

    assert [e.meta.case_version for e in story] == [1, 2, 3]
    assert [e.meta.event_id for e in story] == ["case-1/v1", "case-1/v2", "case-1/v3"]
    assert [e.meta.event_type for e in story] == [
        "case.Created",
        "case.StatusChanged",
        "case.Commented",
    ]
    assert {e.meta.case_id for e in story} == {"case-1"}
    assert {e.meta.correlation_id for e in story} == {"corr-case-1"}
    assert case.events == story
    # Built again, as a re-publish after a relay crash: the same id.
    assert CaseStream("case-1", at=T0).created() == story[0]


def test_created_carries_what_consumers_read() -> None:
    registered = T0 - timedelta(minutes=5)
    event = CaseStream("case-7", number="2026-0000007", channel=Channel.EMAIL, at=T0).created(
        citizen=a_citizen(phone="", preferred=ContactChannel.EMAIL),
        registered_at=registered,
        tier=Tier.L2,
    )

    created = event.created
    assert event.WhichOneof("payload") == "created"
    assert (created.number, created.channel, created.tier, created.priority) == (
        "2026-0000007",
        types_pb2.EMAIL,
        types_pb2.L2,
        types_pb2.NORMAL,
    )
    assert (created.type, created.category) == (types_pb2.TECHNICAL, types_pb2.TECHNICAL_FAULT)
    assert created.citizen.preferred_contact == types_pb2.CONTACT_EMAIL
    assert (created.citizen.mobile_phone, created.citizen.email) == ("", "citizen@example.org")
    assert from_timestamp(created.registered_at) == registered
    assert from_timestamp(event.meta.occurred_at) == T0
    assert event.meta.actor == types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk")


def test_status_changes_start_from_the_current_status() -> None:
    case = CaseStream(at=T0)
    case.created()
    first = case.status_changed(to=Status.WAITING_FOR_CITIZEN)
    second = case.status_changed(to=Status.IN_PROGRESS, by=ActorKind.CITIZEN)
    forced = case.status_changed(from_=Status.CLOSED, to=Status.IN_PROGRESS, reason="reopened")

    assert (first.status_changed.from_status, first.status_changed.to_status) == (
        types_pb2.REGISTERED,
        types_pb2.WAITING_FOR_CITIZEN,
    )
    assert second.status_changed.from_status == types_pb2.WAITING_FOR_CITIZEN
    assert second.meta.actor.kind == types_pb2.Actor.CITIZEN
    assert first.meta.actor.kind == types_pb2.Actor.SPECIALIST
    assert forced.status_changed.from_status == types_pb2.CLOSED
    assert forced.status_changed.reason == "reopened"
    assert case.status is Status.IN_PROGRESS


def test_escalation_moves_the_tier_up_by_default() -> None:
    case = CaseStream(at=T0)
    up = case.escalated(callback_required=True)
    named = case.escalated(
        to_tier=Tier.L3,
        reason=EscalationReason.RESOLUTION_BREACH,
        cause_ref="b-1",
        priority=Priority.HIGH,
    )

    assert (up.escalated.from_tier, up.escalated.to_tier) == (types_pb2.L1, types_pb2.L2)
    assert up.escalated.reason == events_pb2.NO_ANSWER_IN_TIME and up.escalated.callback_required
    assert up.escalated.priority == types_pb2.PRIORITY_UNSPECIFIED
    assert (named.escalated.from_tier, named.escalated.to_tier) == (types_pb2.L2, types_pb2.L3)
    assert (named.escalated.reason, named.escalated.cause_ref, named.escalated.priority) == (
        events_pb2.RESOLUTION_BREACH,
        "b-1",
        types_pb2.HIGH,
    )
    with pytest.raises(ValueError, match="nothing above L3"):
        case.escalated()


def test_comments_requests_assignments_and_repeats() -> None:
    case = CaseStream("c", at=T0)
    note = case.commented(public=False, body="внутренняя заметка")
    question = case.commented(by=ActorKind.CITIZEN, actor_id="petrov")
    request = case.escalation_requested(reason=EscalationReason.CRITICAL_ERROR)
    empty = case.escalation_requested(reason=EscalationReason.UNSPECIFIED, request_id="")
    assigned = case.assigned(specialist_id="l2-001")
    repeated = case.repeated(new_case_id="c-2", new_case_number="2026-0000002")

    assert (note.commented.public, note.commented.body) == (False, "внутренняя заметка")
    assert note.commented.comment_id != question.commented.comment_id
    assert question.meta.actor == types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="petrov")
    assert request.escalation_requested.reason == events_pb2.CRITICAL_ERROR
    assert request.escalation_requested.request_id
    assert request.meta.actor.kind == types_pb2.Actor.CITIZEN
    assert empty.escalation_requested == events_pb2.EscalationRequested()
    assert (assigned.assigned.specialist_id, assigned.assigned.tier) == ("l2-001", types_pb2.L1)
    assert repeated.repeated.new_case_id == "c-2"
    assert [e.meta.case_version for e in case.events] == [1, 2, 3, 4, 5, 6]


def test_envelope_overrides_and_events_out_of_turn() -> None:
    case = CaseStream("c", at=T0)
    case.created()
    later = case.commented(at=T0 + timedelta(seconds=10))
    following = case.status_changed(to=Status.IN_PROGRESS)
    duplicate = case.created(version=1, event_id="dup", correlation_id="", causation_id="cmd-1")
    after = case.commented()

    assert from_timestamp(later.meta.occurred_at) == T0 + timedelta(seconds=10)
    assert following.meta.occurred_at == later.meta.occurred_at  # the stream keeps the clock
    assert (duplicate.meta.case_version, duplicate.meta.event_id) == (1, "dup")
    assert (duplicate.meta.correlation_id, duplicate.meta.causation_id) == ("", "cmd-1")
    assert after.meta.case_version == 4


def test_a_new_stream_gets_a_fresh_case_id_and_the_current_time() -> None:
    first, second = CaseStream(), CaseStream()

    assert first.case_id != second.case_id
    assert abs(from_timestamp(first.created().meta.occurred_at) - datetime.now(UTC)) < timedelta(
        seconds=5
    )
