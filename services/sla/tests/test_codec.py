"""Translation of case.events.v1 into facts and of facts into sla.events.v1."""

from __future__ import annotations

from sla_builders import SECOND, T0, case_stream, moment

from casedesk.case.v1 import events_pb2 as case_events
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_sla.domain import (
    CaseOpened,
    PolicyRegistry,
    PublicReply,
    SlaBook,
    StatusChanged,
    TierChanged,
)
from casedesk_sla.wire.case_events import case_fact
from casedesk_sla.wire.sla_events import sla_event
from casedesk_vocabulary.enums import ActorKind, Channel, Status, Tier


def test_created_starts_at_registration_with_channel_and_tier():
    case = case_stream("c-1", channel=Channel.SOCIAL, tier=Tier.L2)
    event = case.created(registered_at=moment(T0), at=moment(T0 + 5 * SECOND))  # stored later

    fact = case_fact(event)

    assert isinstance(fact, CaseOpened)
    assert (fact.at, fact.channel, fact.tier, fact.case_version) == (T0, "SOCIAL", "L2", 1)


def test_created_carries_the_category_and_none_when_unstated_or_unknown():
    def category(value: int) -> str:
        event = case_stream("c-1").created()
        event.created.category = value  # type: ignore[assignment]
        fact = case_fact(event)
        assert isinstance(fact, CaseOpened)
        return fact.category

    assert category(types_pb2.REGISTRATION_SIGN_IN) == "REGISTRATION_SIGN_IN"
    assert category(types_pb2.CATEGORY_UNSPECIFIED) == ""
    # A category newer than this release: the channel's targets, never a case without clocks.
    assert category(99) == ""


def test_only_public_specialist_comments_are_replies():
    specialist = case_fact(case_stream("c-1").commented(public=True, version=2))
    note = case_fact(case_stream("c-1").commented(public=False, version=2))
    citizen = case_fact(case_stream("c-1").commented(public=True, by=ActorKind.CITIZEN, version=2))

    assert isinstance(specialist, PublicReply)
    assert (note, citizen) == (None, None)


def test_a_callback_that_reached_the_citizen_is_a_reply_and_one_that_did_not_is_none():
    phone = case_stream("phone-1", channel=Channel.PHONE)
    phone.created()

    def recorded(reached: bool) -> object:
        payload = case_events.CallbackRecorded(reached=reached, note="перезвонил")
        return case_fact(phone.event("callback_recorded", payload, by=ActorKind.SPECIALIST))

    reached = recorded(True)
    assert isinstance(reached, PublicReply) and reached.case_id == "phone-1"
    assert recorded(False) is None


def test_status_change_knows_who_made_it():
    fact = case_fact(
        case_stream("c-1").status_changed(
            from_=Status.WAITING_FOR_CITIZEN,
            to=Status.IN_PROGRESS,
            by=ActorKind.CITIZEN,
            version=3,
        )
    )

    assert isinstance(fact, StatusChanged)
    assert (fact.from_status, fact.to_status, fact.by_citizen) == (
        "WAITING_FOR_CITIZEN",
        "IN_PROGRESS",
        True,
    )


def test_escalation_changes_the_tier_and_assignment_moves_no_clock():
    escalated = case_stream("c-1").escalated(from_tier=Tier.L1, to_tier=Tier.L3)
    assigned = case_stream("c-1").assigned(specialist_id="s-1", tier=Tier.L1)

    fact = case_fact(escalated)

    assert isinstance(fact, TierChanged) and fact.tier == "L3"
    assert case_fact(assigned) is None


def test_sla_event_carries_envelope_versions_and_instants():
    book = SlaBook(PolicyRegistry("test-seconds"))
    started, _ = book.apply(case_fact(case_stream("c-1", channel=Channel.PHONE).created()))
    (warning,) = book.advance(T0 + 3_300_000)
    (breach,) = book.advance(T0 + 4 * SECOND + 1)

    start_event, warning_event, breach_event = map(sla_event, (started, warning, breach))

    assert start_event.meta.event_type == "sla.ClockStarted"
    assert start_event.meta.case_id == "c-1"
    assert start_event.meta.causation_id == "c-1/v1"
    assert start_event.meta.correlation_id == "corr-c-1"
    assert start_event.meta.actor.kind == types_pb2.Actor.SYSTEM
    assert start_event.channel == types_pb2.PHONE
    assert start_event.target == sla_events.FIRST_RESPONSE
    assert start_event.due_at.ToMicroseconds() == T0 + 4 * SECOND
    assert start_event.started.warn_at.ToMicroseconds() == T0 + 3_200_000
    assert warning_event.warning.elapsed_fraction == 0.8
    assert breach_event.meta.causation_id == start_event.meta.event_id
    # Decided by the timer, the alarms still belong to the request that opened the case.
    assert warning_event.meta.correlation_id == breach_event.meta.correlation_id == "corr-c-1"
    assert breach_event.breached.fired_at.ToMicroseconds() == T0 + 4 * SECOND
    assert breach_event.breached.tier == types_pb2.L1
    assert len({e.meta.event_id for e in (start_event, warning_event, breach_event)}) == 3
