"""Domain enums <-> protobuf enums: the runtime's one mapping, with the case service's refusals."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from casedesk_case.domain.errors import InvalidCommand
from casedesk_runtime import enum_numbers
from casedesk_runtime.enum_numbers import to_proto

__all__ = ["from_proto", "require", "to_proto"]

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
