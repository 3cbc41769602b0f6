"""Decoding Kafka payloads, and the small conversions every projection needs.

Instants are kept as integer microseconds since the epoch (UTC) and enums as their protobuf names:
both are cheap to compare, hash and pickle into a checkpoint, and become Arrow columns directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import DecodeError, Message

from casedesk.case.v1 import events_pb2 as case_events
from casedesk.common.v1 import types_pb2
from casedesk.notification.v1 import events_pb2 as notification_events
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_replay.topics import PAYLOADS, Stream
from casedesk_runtime.events import micros_of
from casedesk_vocabulary.moscow import from_micros, to_micros

__all__ = ["from_micros", "micros", "names", "to_micros"]

Micros = int


class UndecodableRecord(ValueError):
    """A record whose value is not the payload its topic promises; `index` is its batch index."""

    def __init__(self, index: int, payload: str, error: Exception) -> None:
        super().__init__(f"record is not a {payload}: {error}")
        self.index = index


def micros(stamp: Any) -> Micros | None:
    """A protobuf Timestamp as microseconds; None when the field is unset (all zero)."""
    seconds, nanos = stamp.seconds, stamp.nanos
    if not seconds and not nanos:
        return None
    return micros_of(stamp)


def names(enum: EnumTypeWrapper) -> dict[int, str]:
    """Number -> name of a protobuf enum, looked up once instead of per event."""
    return {number: name for name, number in enum.items()}


CHANNEL = names(types_pb2.Channel)
CASE_TYPE = names(types_pb2.CaseType)
CATEGORY = names(types_pb2.Category)
STATUS = names(types_pb2.Status)
TIER = names(types_pb2.Tier)
PRIORITY = names(types_pb2.Priority)
ACTOR_KIND = names(types_pb2.Actor.Kind)
ESCALATION_REASON = names(case_events.EscalationReason)
CLOSE_REASON = names(case_events.CloseReason)
SLA_TARGET = names(sla_events.Target)
DELIVERY_CHANNEL = names(notification_events.DeliveryChannel)

CITIZEN = types_pb2.Actor.CITIZEN
SPECIALIST = types_pb2.Actor.SPECIALIST


def decode_many(stream: Stream, values: Sequence[bytes | None]) -> list[Message]:
    """Decode a batch of record values of one stream; raises UndecodableRecord on the first bad one.

    A replay must not silently skip a fact (its counts would quietly disagree with the topic), so
    a bad record stops it; the caller turns the index into the record's position.
    """
    payload = PAYLOADS[stream]
    parse = payload.FromString
    try:
        return [parse(value) for value in values]  # type: ignore[arg-type]
    except (DecodeError, TypeError):
        pass
    # The slow path runs once, to say which record it was.
    for index, value in enumerate(values):
        try:
            parse(value)  # type: ignore[arg-type]
        except (DecodeError, TypeError) as error:
            raise UndecodableRecord(index, payload.DESCRIPTOR.full_name, error) from error
    raise AssertionError("unreachable: the batch decoded on the second attempt")
