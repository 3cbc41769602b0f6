"""Translation between the wire (case.events.v1, sla.events.v1) and the domain's facts.

Only the events that move a clock become facts; the rest of case.events.v1 (assignments,
attachments, links, internal notes, citizens' comments) is read and ignored here.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from casedesk.case.v1 import events_pb2 as case_events
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_deadlines import TargetKind
from casedesk_sla.domain import (
    CaseFact,
    CaseOpened,
    Micros,
    PublicReply,
    SlaFact,
    SlaKind,
    StatusChanged,
    TierChanged,
)

SLA_ACTOR = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-sla")
_CITIZEN = types_pb2.Actor.CITIZEN
_SPECIALIST = types_pb2.Actor.SPECIALIST


def micros_of(stamp: timestamp_pb2.Timestamp) -> Micros:
    return stamp.seconds * 1_000_000 + stamp.nanos // 1_000


def timestamp_of(micros: Micros) -> timestamp_pb2.Timestamp:
    seconds, rest = divmod(micros, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=rest * 1_000)


def event_time(event: case_events.CaseEvent) -> Micros:
    return micros_of(event.meta.occurred_at)


def case_fact(event: case_events.CaseEvent, traceparent: str | None = None) -> CaseFact | None:
    """The clock-relevant fact a case event carries, or None when it moves no clock.

    `traceparent` is the record's W3C header: the trace the fact's SLA events will belong to.
    """
    meta = event.meta
    if not meta.case_id:
        raise ValueError("case event without a case id")
    common = (meta.case_id, meta.case_version, micros_of(meta.occurred_at), meta.event_id)
    correlation = meta.correlation_id
    payload = event.WhichOneof("payload")
    if payload == "created":
        created = event.created
        # Clocks start when the case was registered, which the case service may have back-dated
        # to the moment the request reached the channel (an e-mail's arrival).
        start = micros_of(created.registered_at) if created.HasField("registered_at") else common[2]
        return CaseOpened(
            meta.case_id,
            meta.case_version,
            start,
            meta.event_id,
            correlation,
            channel=types_pb2.Channel.Name(created.channel),
            tier=types_pb2.Tier.Name(created.tier),
            traceparent=traceparent,
        )
    if payload == "status_changed":
        change = event.status_changed
        return StatusChanged(
            *common,
            correlation,
            from_status=types_pb2.Status.Name(change.from_status),
            to_status=types_pb2.Status.Name(change.to_status),
            by_citizen=meta.actor.kind == _CITIZEN,
            traceparent=traceparent,
        )
    if payload == "commented":
        if event.commented.public and meta.actor.kind == _SPECIALIST:
            return PublicReply(*common, correlation, traceparent=traceparent)
        return None
    if payload == "escalated":
        tier = types_pb2.Tier.Name(event.escalated.to_tier)
        return TierChanged(*common, correlation, tier=tier, traceparent=traceparent)
    return None


def sla_event(fact: SlaFact) -> sla_events.SlaEvent:
    event = sla_events.SlaEvent(
        meta=envelope_pb2.EventMeta(
            event_id=fact.event_id,
            case_id=fact.case_id,
            case_version=fact.case_version,
            event_type=_EVENT_TYPES[fact.kind],
            causation_id=fact.causation_id,
            correlation_id=fact.correlation_id,
            actor=SLA_ACTOR,
        ),
        target=_TARGETS[fact.target],
        channel=types_pb2.Channel.Value(fact.channel),
        policy_version=fact.policy_version,
        calendar_version=fact.calendar_version,
    )
    _stamp(event.meta.occurred_at, fact.at)
    _stamp(event.due_at, fact.due)
    _fill_payload(event, fact)
    return event


_EVENT_TYPES = {kind: f"sla.{kind.value}" for kind in SlaKind}
_TARGETS = {kind: sla_events.Target.Value(kind.value) for kind in TargetKind}


def _stamp(stamp: timestamp_pb2.Timestamp, micros: Micros) -> None:
    # Setting fields in place: encoding runs once per SLA event, building and copying a
    # Timestamp per field was a third of the cost.
    stamp.seconds, rest = divmod(micros, 1_000_000)
    stamp.nanos = rest * 1_000


def _fill_payload(event: sla_events.SlaEvent, fact: SlaFact) -> None:
    kind = fact.kind
    if kind is SlaKind.STARTED:
        _stamp(event.started.started_at, fact.at)
        if fact.warn_at is not None:
            _stamp(event.started.warn_at, fact.warn_at)
    elif kind is SlaKind.PAUSED:
        _stamp(event.paused.paused_at, fact.at)
        event.paused.remaining.FromMicroseconds(fact.remaining or 0)
    elif kind is SlaKind.RESUMED:
        _stamp(event.resumed.resumed_at, fact.at)
        if fact.warn_at is not None:
            _stamp(event.resumed.warn_at, fact.warn_at)
    elif kind is SlaKind.WARNING:
        event.warning.elapsed_fraction = fact.elapsed_fraction
    elif kind is SlaKind.BREACHED:
        _stamp(event.breached.fired_at, fact.at)
        event.breached.tier = types_pb2.Tier.Value(fact.tier)
    else:
        _stamp(event.met.met_at, fact.at)
        event.met.late = fact.late
