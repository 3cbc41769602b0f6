"""The domain's SLA facts as sla.events.v1 `SlaEvent`s."""

from __future__ import annotations

from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_sla.domain import DeadlineTarget, SlaFact, SlaKind
from casedesk_sla.wire.timestamps import stamp

SLA_ACTOR = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-sla")


def event_type(fact: SlaFact) -> str:
    """The `event_type` of the envelope and of the record's `event-type` header."""
    return _EVENT_TYPES[fact.kind]


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
    stamp(event.meta.occurred_at, fact.at)
    stamp(event.due_at, fact.due)
    _fill_payload(event, fact)
    return event


_EVENT_TYPES = {kind: f"sla.{kind.value}" for kind in SlaKind}
_TARGETS = {target: sla_events.Target.Value(target.value) for target in DeadlineTarget}


def _fill_payload(event: sla_events.SlaEvent, fact: SlaFact) -> None:
    kind = fact.kind
    if kind is SlaKind.STARTED:
        stamp(event.started.started_at, fact.at)
        if fact.warn_at is not None:
            stamp(event.started.warn_at, fact.warn_at)
    elif kind is SlaKind.PAUSED:
        stamp(event.paused.paused_at, fact.at)
        event.paused.remaining.FromMicroseconds(fact.remaining or 0)
    elif kind is SlaKind.RESUMED:
        stamp(event.resumed.resumed_at, fact.at)
        if fact.warn_at is not None:
            stamp(event.resumed.warn_at, fact.warn_at)
    elif kind is SlaKind.WARNING:
        event.warning.elapsed_fraction = fact.elapsed_fraction
    elif kind is SlaKind.BREACHED:
        stamp(event.breached.fired_at, fact.at)
        event.breached.tier = types_pb2.Tier.Value(fact.tier)
    else:
        stamp(event.met.met_at, fact.at)
        event.met.late = fact.late
