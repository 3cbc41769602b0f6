"""Records of case.events.v1 and sla.events.v1 as domain observations.

A record becomes an `Observation`: the facts it states about a case, and the trigger it carries
if it asks for an escalation (an SLA breach, a citizen's EscalationRequested). A record that is not
a valid event of its topic raises `UndecodableRecord` and is dead-lettered by the consumer.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_escalation.domain import case_state as facts
from casedesk_escalation.domain.observation import Observation
from casedesk_escalation.domain.triggers import Trigger
from casedesk_escalation.wire.topics import Topics
from casedesk_runtime.events import from_timestamp, unreadable_as
from casedesk_vocabulary.enums import Channel, DeadlineTarget, EscalationReason, Status, Tier

M = TypeVar("M", bound=Message)
D = TypeVar("D", bound=Enum)


class UndecodableRecord(ValueError):
    """The record is not a valid event of its topic; it goes to the dead-letter topic."""


@unreadable_as(UndecodableRecord)
def read_record(topics: Topics, topic: str, value: bytes | None) -> Observation:
    if topic == topics.sla:
        return read_sla_event(value or b"")
    if topic == topics.case:
        return read_case_event(value or b"")
    raise UndecodableRecord(f"topic {topic} is not consumed by the escalation service")


def read_case_event(value: bytes) -> Observation:
    event = _parse(events_pb2.CaseEvent, value)
    meta = event.meta
    kind = event.WhichOneof("payload")
    fact: facts.Fact
    trigger = None
    if kind == "created":
        fact = facts.CaseOpened(
            _enum(Channel, types_pb2.Channel, event.created.channel),
            _enum(Tier, types_pb2.Tier, event.created.tier) or Tier.L1,
            meta.case_version,
        )
    elif kind == "status_changed":
        status = _enum(Status, types_pb2.Status, event.status_changed.to_status)
        if status is None:
            raise UndecodableRecord("StatusChanged without a target status")
        fact = facts.StatusChanged(status, meta.case_version)
    elif kind == "escalated":
        escalated = event.escalated
        fact = facts.CaseEscalated(
            _enum(Tier, types_pb2.Tier, escalated.from_tier) or Tier.L1,
            _enum(Tier, types_pb2.Tier, escalated.to_tier) or Tier.L1,
            _enum(EscalationReason, events_pb2.EscalationReason, escalated.reason),
            escalated.cause_ref,
            _when(meta),
            meta.case_version,
        )
    else:
        fact = facts.CaseTouched(meta.case_version)
        if kind == "escalation_requested":
            requested = event.escalation_requested
            reason = _enum(EscalationReason, events_pb2.EscalationReason, requested.reason)
            if reason is None or not requested.request_id:
                raise UndecodableRecord("EscalationRequested without a reason or a request id")
            trigger = Trigger.request(
                event_id=meta.event_id,
                case_id=meta.case_id,
                request_id=requested.request_id,
                reason=reason,
                occurred_at=_when(meta),
                correlation_id=meta.correlation_id,
            )
    return Observation(_case_id(meta), (fact,), trigger)


def read_sla_event(value: bytes) -> Observation:
    event = _parse(sla_pb2.SlaEvent, value)
    meta = event.meta
    channel = _enum(Channel, types_pb2.Channel, event.channel)
    if event.WhichOneof("payload") != "breached":
        return Observation(_case_id(meta), (facts.ClockObserved(channel),))
    target = _enum(DeadlineTarget, sla_pb2.Target, event.target)
    if target is None or not event.HasField("due_at"):
        raise UndecodableRecord("Breached without a target or a due instant")
    trigger = Trigger.breach(
        event_id=meta.event_id,
        case_id=meta.case_id,
        target=target,
        due_at=from_timestamp(event.due_at),
        occurred_at=_when(meta),
        tier_at_breach=_enum(Tier, types_pb2.Tier, event.breached.tier),
        channel=channel,
        correlation_id=meta.correlation_id,
    )
    return Observation(_case_id(meta), (facts.DeadlineBreached(target, channel),), trigger)


def _parse(message_class: type[M], value: bytes) -> M:
    message = message_class()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise UndecodableRecord(f"not a {message_class.__name__}: {exc}") from None
    return message


def _case_id(meta: Any) -> str:
    if not meta.case_id or not meta.event_id:
        raise UndecodableRecord("event without a case id or an event id")
    return meta.case_id


def _when(meta: Any) -> datetime:
    return from_timestamp(meta.occurred_at)


def _enum(domain: type[D], proto_enum: Any, number: int) -> D | None:
    """Protobuf enum number -> domain member of the same name; None for UNSPECIFIED/unknown."""
    if not number:
        return None
    try:
        return domain[proto_enum.Name(number)]
    except (KeyError, ValueError):
        return None
