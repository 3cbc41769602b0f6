"""Stored case events -> the `CaseEvent` envelope the outbox relay publishes (case events topic).

The event id is derived from (case id, version), which identify a stored event for good, so a
re-publish after a crash carries the same id and consumers deduplicate it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2
from casedesk_case.domain.case import Case
from casedesk_case.wire.enums import close_reason_to_proto, to_proto
from casedesk_case.wire.timestamps import to_timestamp
from casedesk_case.wire.values import (
    actor_to_proto,
    attachment_to_proto,
    citizen_to_proto,
    content_to_proto,
    origin_to_proto,
)

_EVENT_NAMESPACE = UUID("c0a5e1d2-7b3f-4e59-9d8a-61f2b4c7e903")


def event_id(case_id: str, version: int) -> str:
    return str(uuid5(_EVENT_NAMESPACE, f"{case_id}/{version}"))


def event_type(event: Any) -> str:
    return f"case.{type(event).__name__}"


def to_case_event(event: Any) -> events_pb2.CaseEvent:
    case_id = str(event.originator_id)
    context = event.context
    meta = envelope_pb2.EventMeta(
        event_id=event_id(case_id, event.originator_version),
        case_id=case_id,
        case_version=event.originator_version,
        event_type=event_type(event),
        occurred_at=to_timestamp(event.timestamp),
        causation_id=context.causation_id,
        correlation_id=context.correlation_id,
        actor=actor_to_proto(context.actor),
    )
    field, build = _PAYLOADS[type(event)]
    return events_pb2.CaseEvent(
        meta=meta, identified_by=context.identified_by, **{field: build(event)}
    )


def _created(e: Any) -> events_pb2.Created:
    return events_pb2.Created(
        number=e.number,
        channel=to_proto(e.channel),  # type: ignore[arg-type]
        type=to_proto(e.case_type),  # type: ignore[arg-type]
        category=to_proto(e.category),  # type: ignore[arg-type]
        queue=e.queue,
        citizen=citizen_to_proto(e.citizen),
        content=content_to_proto(e.content),
        provenance=origin_to_proto(e.origin),
        attachments=[attachment_to_proto(a) for a in e.attachments],
        repeat_of=e.repeat_of,
        linked_to=e.linked_to,
        tier=to_proto(e.tier),  # type: ignore[arg-type]
        priority=to_proto(e.priority),  # type: ignore[arg-type]
        registered_at=to_timestamp(e.timestamp),
        # Events stored before the field existed do not have it.
        identified_by=getattr(e, "identified_by", ""),
    )


_PAYLOADS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    Case.Created: ("created", _created),
    Case.Commented: ("commented", lambda e: events_pb2.Commented(
        comment_id=e.comment_id, body=e.body, public=e.public,
        attachments=[attachment_to_proto(a) for a in e.attachments],
    )),
    Case.StatusChanged: ("status_changed", lambda e: events_pb2.StatusChanged(
        from_status=to_proto(e.from_status), to_status=to_proto(e.to_status), reason=e.reason,
        # Events stored before close reasons existed do not have one.
        close_reason=close_reason_to_proto(getattr(e, "close_reason", None)),
    )),
    Case.Assigned: ("assigned", lambda e: events_pb2.Assigned(
        specialist_id=e.specialist_id, queue=e.queue, tier=to_proto(e.tier),
        previous_specialist_id=e.previous_specialist_id,
    )),
    Case.Repeated: ("repeated", lambda e: events_pb2.Repeated(
        new_case_id=e.new_case_id, new_case_number=e.new_case_number, reason=e.reason,
    )),
    Case.EscalationRequested: ("escalation_requested", lambda e: events_pb2.EscalationRequested(
        request_id=e.request_id, reason=to_proto(e.reason), explanation=e.explanation,
    )),
    Case.Escalated: ("escalated", lambda e: events_pb2.Escalated(
        from_tier=to_proto(e.from_tier), to_tier=to_proto(e.to_tier), reason=to_proto(e.reason),
        cause_ref=e.cause_ref, priority=to_proto(e.priority),
        callback_required=e.callback_required,
    )),
    Case.AttachmentAdded: ("attachment_added", lambda e: events_pb2.AttachmentAdded(
        attachment=attachment_to_proto(e.attachment),
    )),
    Case.Linked: ("linked", lambda e: events_pb2.Linked(
        linked_case_id=e.linked_case_id, reason=e.reason,
    )),
    Case.AnswerRated: ("answer_rated", lambda e: events_pb2.AnswerRated(
        score=e.score, comment=e.comment, channel=to_proto(e.channel),
    )),
    Case.MergedInto: ("merged_into", lambda e: events_pb2.MergedInto(
        target_case_id=e.target_case_id, target_number=e.target_number, reason=e.reason,
    )),
    Case.DuplicateMerged: ("duplicate_merged", lambda e: events_pb2.DuplicateMerged(
        duplicate_case_id=e.duplicate_case_id, duplicate_number=e.duplicate_number,
    )),
    Case.CallbackRecorded: ("callback_recorded", lambda e: events_pb2.CallbackRecorded(
        reached=e.reached, note=e.note,
    )),
}  # fmt: skip


CONTENT_TYPE = b"application/x-protobuf; messageType=casedesk.case.v1.CaseEvent"


@dataclass(frozen=True)
class OutboxRecord:
    """A stored case event as the Kafka record the outbox relay sends (keyed by case id)."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def to_outbox_record(event: Any) -> OutboxRecord:
    envelope = to_case_event(event)
    headers = [
        ("content-type", CONTENT_TYPE),
        ("casedesk-event-type", envelope.meta.event_type.encode()),
    ]
    if event.context.trace_parent:
        # The trace of the command that stored the event, so consumers continue it.
        headers.append(("traceparent", event.context.trace_parent.encode()))
    return OutboxRecord(envelope.meta.case_id.encode(), envelope.SerializeToString(), headers)
