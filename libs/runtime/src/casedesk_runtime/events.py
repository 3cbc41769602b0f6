"""The envelope every Kafka event carries (casedesk.common.v1.EventMeta), and protobuf Timestamps.

The one conversion between Timestamps and instants for every service: integer arithmetic on
the fields, never protobuf's `FromDatetime` (through `utctimetuple` and `calendar.timegm`, four
times slower), since every command response and every event carries two or three of them.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from google.protobuf import timestamp_pb2

from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_vocabulary.moscow import Micros, from_micros, to_micros

_P = ParamSpec("_P")
_R = TypeVar("_R")


def unreadable_as(
    error: type[ValueError],
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A record decoder whose every refusal is `error` (the one its consumer dead-letters).

    A field a valid protobuf can hold but Python cannot (a Timestamp past year 9999, an enum
    number of a newer producer) raises OverflowError or ValueError deep in a conversion; without
    this, such a record stops its consumer instead of going to the dead-letter topic.
    """

    def wrap(decode: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(decode)
        def decoding(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return decode(*args, **kwargs)
            except error:
                raise
            except (OverflowError, ValueError) as problem:
                raise error(f"unreadable record: {problem}") from None

        return decoding

    return wrap


def to_timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """The Timestamp of an aware instant (a naive one raises ValueError)."""
    return timestamp_of(to_micros(moment))


def from_timestamp(stamp: timestamp_pb2.Timestamp) -> datetime:
    return from_micros(micros_of(stamp))


def micros_of(stamp: timestamp_pb2.Timestamp) -> Micros:
    return stamp.seconds * 1_000_000 + stamp.nanos // 1_000


def timestamp_of(micros: Micros) -> timestamp_pb2.Timestamp:
    # Floor division keeps nanos non-negative before 1970 too, as protobuf requires.
    seconds, rest = divmod(micros, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=rest * 1_000)


def stamp(target: timestamp_pb2.Timestamp, micros: Micros) -> None:
    """Set `target` (a field of a message being built) to `micros`, in place."""
    # Setting fields in place: building and copying a Timestamp per field costs a third more.
    target.seconds, rest = divmod(micros, 1_000_000)
    target.nanos = rest * 1_000


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
