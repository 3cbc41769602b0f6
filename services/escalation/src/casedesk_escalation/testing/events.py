"""Case and SLA events as the case relay and the SLA service put them on Kafka (serialized)."""

from __future__ import annotations

from datetime import datetime

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_runtime.events import new_meta, to_timestamp


def case_event(case_id: str, version: int, at: datetime, **payload: object) -> bytes:
    """A CaseEvent with one payload field, e.g. created=events_pb2.Created(...)."""
    (kind,) = payload
    meta = new_meta(
        case_id, version, f"case.{kind}", event_id=f"{case_id}/v{version}", occurred_at=at
    )
    return events_pb2.CaseEvent(meta=meta, **payload).SerializeToString()  # type: ignore[arg-type]


def created(
    case_id: str, at: datetime, channel: int = types_pb2.PORTAL_CHAT, version: int = 1
) -> bytes:
    return case_event(
        case_id,
        version,
        at,
        created=events_pb2.Created(
            number=f"2026-{abs(hash(case_id)) % 10_000_000:07d}",
            channel=channel,
            tier=types_pb2.L1,
            priority=types_pb2.NORMAL,
            registered_at=to_timestamp(at),
        ),
    )


def escalation_requested(
    case_id: str, version: int, at: datetime, request_id: str, reason: int
) -> bytes:
    requested = events_pb2.EscalationRequested(request_id=request_id, reason=reason)
    return case_event(case_id, version, at, escalation_requested=requested)


def sla_event(
    case_id: str,
    event_id: str,
    target: int,
    due: datetime,
    at: datetime,
    channel: int = types_pb2.PORTAL_CHAT,
    **payload: object,
) -> bytes:
    return sla_pb2.SlaEvent(
        meta=new_meta(case_id, 1, "sla.Event", event_id=event_id, occurred_at=at),
        target=target,
        channel=channel,
        policy_version="test",
        calendar_version="test",
        due_at=to_timestamp(due),
        **payload,  # type: ignore[arg-type]
    ).SerializeToString()


def breached(
    case_id: str,
    target: int,
    tier: int,
    due: datetime,
    channel: int = types_pb2.PORTAL_CHAT,
    event_id: str | None = None,
) -> bytes:
    name = sla_pb2.Target.Name(target)
    return sla_event(
        case_id,
        event_id or f"{case_id}/breach/{name}/{due.isoformat()}",
        target,
        due,
        due,
        channel,
        breached=sla_pb2.Breached(fired_at=to_timestamp(due), tier=tier),
    )


def clock_started(
    case_id: str, target: int, started: datetime, due: datetime, channel: int
) -> bytes:
    name = sla_pb2.Target.Name(target)
    return sla_event(
        case_id,
        f"{case_id}/started/{name}",
        target,
        due,
        started,
        channel,
        started=sla_pb2.ClockStarted(started_at=to_timestamp(started)),
    )
