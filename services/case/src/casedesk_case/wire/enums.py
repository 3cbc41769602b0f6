"""Domain enums <-> protobuf enums: the runtime's one mapping, with the case service's refusals."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from casedesk.case.v1 import events_pb2
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import CloseReason
from casedesk_runtime import enum_numbers
from casedesk_runtime.enum_numbers import to_proto

__all__ = [
    "close_reason_from_proto",
    "close_reason_to_proto",
    "from_proto",
    "require",
    "to_proto",
]

E = TypeVar("E", bound=Enum)


def from_proto(enum_type: type[E], number: int, field: str, *, required: bool = True) -> E | None:
    """The domain member for a protobuf number; zero is refused when `required`."""
    if not enum_numbers.known(enum_type, number):
        raise InvalidCommand(field, f"unknown value {number}")
    if number == 0 and required:
        raise InvalidCommand(field, "must be specified")
    return enum_numbers.from_proto(enum_type, number)


def require(enum_type: type[E], number: int, field: str) -> E:
    member = from_proto(enum_type, number, field, required=True)
    assert member is not None
    return member


# CloseReason is the case events' own enum, not in the runtime's mapping: by name here.
def close_reason_to_proto(reason: CloseReason | None) -> int:
    return 0 if reason is None else int(events_pb2.CloseReason.Value(reason.value))


def close_reason_from_proto(number: int, field: str) -> CloseReason | None:
    """The member of a number; None for zero (unset, or an event stored before reasons)."""
    if number not in events_pb2.CloseReason.values():
        raise InvalidCommand(field, f"unknown value {number}")
    return CloseReason(events_pb2.CloseReason.Name(number)) if number else None
