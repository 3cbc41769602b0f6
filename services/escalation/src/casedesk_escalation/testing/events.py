"""Case and SLA events as the case relay and the SLA service put them on Kafka (serialized).

Case events come from the shared `casedesk_runtime.testing.case_events.CaseStream`; `created` and
`escalation_requested` here only serialize one of its events for the callers that pass proto
enum values.
"""

from __future__ import annotations

from datetime import datetime

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_runtime.events import new_meta, to_timestamp
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Channel, EscalationReason


def created(
    case_id: str, at: datetime, channel: int = types_pb2.PORTAL_CHAT, version: int = 1
) -> bytes:
    case = CaseStream(case_id, channel=Channel(types_pb2.Channel.Name(channel)), at=at)
    return case.created(version=version).SerializeToString()


def escalation_requested(
    case_id: str, version: int, at: datetime, request_id: str, reason: int
) -> bytes:
    case = CaseStream(case_id, at=at)
    complaint = case.escalation_requested(
        reason=EscalationReason(events_pb2.EscalationReason.Name(reason)),
        request_id=request_id,
        version=version,
    )
    return complaint.SerializeToString()


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
