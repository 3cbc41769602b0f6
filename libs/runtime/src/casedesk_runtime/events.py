"""Building the envelope every Kafka event carries (casedesk.common.v1.EventMeta)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from casedesk.common.v1 import envelope_pb2, types_pb2


def to_timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant in Casedesk is timezone-aware")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def from_timestamp(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def new_meta(
    case_id: str,
    case_version: int,
    event_type: str,
    actor: types_pb2.Actor | None = None,
    causation_id: str = "",
    correlation_id: str = "",
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> envelope_pb2.EventMeta:
    return envelope_pb2.EventMeta(
        event_id=event_id or str(uuid.uuid4()),
        case_id=case_id,
        case_version=case_version,
        event_type=event_type,
        occurred_at=to_timestamp(occurred_at or datetime.now(UTC)),
        causation_id=causation_id,
        correlation_id=correlation_id,
        actor=actor or types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk"),
    )
