"""Contracts in and out: case/SLA events to observations, decisions to journal and command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_escalation import wire
from casedesk_escalation.domain.case_state import (
    CaseEscalated,
    CaseOpened,
    CaseTouched,
    ClockObserved,
    DeadlineBreached,
    StatusChanged,
)
from casedesk_escalation.domain.decisions import Decision
from casedesk_escalation.domain.triggers import Trigger
from casedesk_runtime.events import new_meta, to_timestamp
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import (
    Channel,
    DeadlineTarget,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)


def case_1() -> CaseStream:
    return CaseStream("case-1", at=T0, correlation_id="corr-1")


def sla_event(**payload) -> bytes:
    meta = new_meta("case-1", 1, "sla.X", event_id="sla-ev-1", occurred_at=T0)
    return sla_pb2.SlaEvent(
        meta=meta,
        target=sla_pb2.RESOLUTION,
        channel=types_pb2.PHONE,
        due_at=to_timestamp(DUE),
        policy_version="p",
        **payload,
    ).SerializeToString()


def test_created_status_changed_and_escalated_become_facts() -> None:
    case = case_1()
    created = wire.read_case_event(
        case.created(channel=Channel.EMAIL, tier=Tier.L1).SerializeToString()
    )
    changed = wire.read_case_event(case.status_changed(to=Status.ANSWER_READY).SerializeToString())
    escalated = wire.read_case_event(
        case.escalated(
            to_tier=Tier.L2, reason=EscalationReason.FIRST_RESPONSE_BREACH, cause_ref="b-1"
        ).SerializeToString()
    )
    commented = wire.read_case_event(case.commented(body="x").SerializeToString())
    assert created.facts == (CaseOpened(Channel.EMAIL, Tier.L1, 1),)
    assert changed.facts == (StatusChanged(Status.ANSWER_READY, 2),)
    assert escalated.facts == (
        CaseEscalated(Tier.L1, Tier.L2, EscalationReason.FIRST_RESPONSE_BREACH, "b-1", T0, 3),
    )
    assert commented.facts == (CaseTouched(4),)
    assert all(o.trigger is None and o.case_id == "case-1" for o in (created, changed, commented))


def test_escalation_request_is_a_trigger_keyed_by_its_request_id() -> None:
    request = case_1().escalation_requested(
        request_id="req-9",
        reason=EscalationReason.UNSATISFYING_ANSWER,
        explanation="x",
        version=5,
        event_id="ev-5",
    )
    observation = wire.read_case_event(request.SerializeToString())
    assert observation.trigger == Trigger.request(
        "ev-5", "case-1", "req-9", EscalationReason.UNSATISFYING_ANSWER, T0, "corr-1"
    )


def test_breach_is_a_fact_and_a_trigger_identified_by_target_and_due() -> None:
    observation = wire.read_sla_event(sla_event(breached=sla_pb2.Breached(tier=types_pb2.L2)))
    assert observation.facts == (DeadlineBreached(DeadlineTarget.RESOLUTION, Channel.PHONE),)
    trigger = observation.trigger
    assert trigger is not None
    assert trigger.reason is EscalationReason.RESOLUTION_BREACH
    assert trigger.key == "breach:RESOLUTION:2026-03-02T09:05:00+00:00"
    assert (trigger.cause_ref, trigger.tier_at_breach, trigger.channel) == (
        "sla-ev-1",
        Tier.L2,
        Channel.PHONE,
    )


def test_other_sla_events_only_tell_the_channel() -> None:
    observation = wire.read_sla_event(sla_event(warning=sla_pb2.Warning(elapsed_fraction=0.8)))
    assert observation.facts == (ClockObserved(Channel.PHONE),) and observation.trigger is None


@pytest.mark.parametrize(
    ("topic", "value"),
    [
        (wire.CASE_TOPIC, b"\xff\xff\xff"),
        (wire.SLA_TOPIC, sla_pb2.SlaEvent(target=sla_pb2.RESOLUTION).SerializeToString()),
        (
            wire.CASE_TOPIC,
            case_1()
            .escalation_requested(reason=EscalationReason.UNSPECIFIED, request_id="")
            .SerializeToString(),
        ),
        ("other.topic", b""),
    ],
)
def test_undecodable_records_are_refused(topic: str, value: bytes) -> None:
    with pytest.raises(wire.UndecodableRecord):
        wire.read_record(wire.Topics(), topic, value)


def test_accepted_decision_becomes_an_idempotent_command_and_a_journal_record() -> None:
    trigger = Trigger.breach(
        "sla-ev-1",
        "case-1",
        DeadlineTarget.FIRST_RESPONSE,
        DUE,
        T0,
        Tier.L1,
        Channel.PHONE,
        "corr-1",
    )
    decision = Decision(trigger, True, "why", "v1", Tier.L1, Tier.L2, Priority.HIGH, True)
    command = wire.escalate_command(decision)
    assert command.context.idempotency_key == (
        "escalation:case-1:breach:FIRST_RESPONSE:2026-03-02T09:05:00+00:00"
    )
    assert command.context.causation_id == "sla-ev-1"
    assert command.context.correlation_id == "corr-1"
    assert (command.case_id, command.to_tier, command.reason, command.cause_ref) == (
        "case-1",
        types_pb2.L2,
        events_pb2.FIRST_RESPONSE_BREACH,
        "sla-ev-1",
    )
    assert command.priority == types_pb2.HIGH and command.callback_required
    record = wire.decision_record(decision, case_version=4)
    assert record.meta.event_id == wire.decision_id(trigger)
    assert (record.meta.case_id, record.meta.case_version) == ("case-1", 4)
    assert record.trigger_event_id == "sla-ev-1" and record.accepted
    assert (record.from_tier, record.to_tier, record.policy_version) == (
        types_pb2.L1,
        types_pb2.L2,
        "v1",
    )


def test_rejected_decision_without_destination_is_journaled_without_a_to_tier() -> None:
    trigger = Trigger.request("e", "case-1", "r", EscalationReason.NO_ANSWER_IN_TIME, T0)
    record = wire.decision_record(Decision(trigger, False, "at L3", "v1", Tier.L3), 9)
    assert isinstance(record, escalation_pb2.EscalationDecision)
    assert not record.accepted and record.to_tier == types_pb2.TIER_UNSPECIFIED
    assert record.explanation == "at L3" and record.reason == events_pb2.NO_ANSWER_IN_TIME
    with pytest.raises(ValueError):
        wire.escalate_command(Decision(trigger, False, "at L3", "v1", Tier.L3))


def test_decision_ids_are_stable_per_trigger_event() -> None:
    a = Trigger.request("e1", "case-1", "r", EscalationReason.CRITICAL_ERROR, T0)
    b = Trigger.request("e2", "case-1", "r", EscalationReason.CRITICAL_ERROR, T0)
    assert wire.decision_id(a) == wire.decision_id(a) != wire.decision_id(b)
