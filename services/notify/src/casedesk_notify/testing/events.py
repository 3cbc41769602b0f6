"""Builders of case.events.v1 records, as the case service's relay publishes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_runtime.events import new_meta, to_timestamp
from casedesk_vocabulary.topics import CASE_EVENTS

TOPIC = CASE_EVENTS


def created(
    case_id: str,
    number: str,
    phone: str = "+79161234567",
    email: str = "citizen@example.org",
    preferred: int = types_pb2.CONTACT_SMS_AND_EMAIL,
    channel: int = types_pb2.PORTAL_CHAT,
    registered_at: datetime | None = None,
    event_id: str | None = None,
) -> events_pb2.CaseEvent:
    moment = registered_at or datetime.now(UTC)
    return events_pb2.CaseEvent(
        meta=new_meta(case_id, 1, "case.Created", event_id=event_id, occurred_at=moment),
        created=events_pb2.Created(
            number=number,
            channel=channel,  # type: ignore[arg-type]
            type=types_pb2.TECHNICAL,
            category=types_pb2.TECHNICAL_FAULT,
            citizen=types_pb2.Citizen(
                full_name="Иванов Иван Иванович",
                mobile_phone=phone,
                email=email,
                preferred_contact=preferred,  # type: ignore[arg-type]
            ),
            content=types_pb2.CaseContent(subject="Не приходит SMS-код"),
            tier=types_pb2.L1,
            registered_at=to_timestamp(moment),
        ),
    )


def status_changed(
    case_id: str, version: int, from_status: int, to_status: int, event_id: str | None = None
) -> events_pb2.CaseEvent:
    return events_pb2.CaseEvent(
        meta=new_meta(case_id, version, "case.StatusChanged", event_id=event_id),
        status_changed=events_pb2.StatusChanged(
            from_status=from_status,  # type: ignore[arg-type]
            to_status=to_status,  # type: ignore[arg-type]
        ),
    )


def escalated(
    case_id: str, version: int, to_tier: int, callback_required: bool = False
) -> events_pb2.CaseEvent:
    return events_pb2.CaseEvent(
        meta=new_meta(case_id, version, "case.Escalated"),
        escalated=events_pb2.Escalated(
            from_tier=types_pb2.L1,
            to_tier=to_tier,  # type: ignore[arg-type]
            reason=events_pb2.NO_ANSWER_IN_TIME,
            callback_required=callback_required,
        ),
    )


def commented(
    case_id: str, version: int, public: bool, by_specialist: bool
) -> events_pb2.CaseEvent:
    kind = types_pb2.Actor.SPECIALIST if by_specialist else types_pb2.Actor.CITIZEN
    return events_pb2.CaseEvent(
        meta=new_meta(case_id, version, "case.Commented", actor=types_pb2.Actor(kind=kind, id="x")),
        commented=events_pb2.Commented(
            comment_id=str(uuid.uuid4()), body="Проверьте раздел «Мои заявления»", public=public
        ),
    )


@dataclass(frozen=True)
class Record:
    """What the consumer reads: the fields of an aiokafka ConsumerRecord that notify uses."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def record(event: events_pb2.CaseEvent, offset: int, partition: int = 0) -> Record:
    return Record(TOPIC, partition, offset, event.meta.case_id.encode(), event.SerializeToString())
