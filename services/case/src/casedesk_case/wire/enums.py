"""Domain enums <-> protobuf enums, by name."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import (
    ActorKind,
    CaseType,
    Category,
    Channel,
    ContactChannel,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

E = TypeVar("E", bound=Enum)

# domain enum -> (protobuf enum wrapper, prefix of its member names, name of its zero member)
_PROTO: dict[type[Enum], tuple[Any, str, str]] = {
    Status: (types_pb2.Status, "", "STATUS_UNSPECIFIED"),
    Channel: (types_pb2.Channel, "", "CHANNEL_UNSPECIFIED"),
    CaseType: (types_pb2.CaseType, "", "CASE_TYPE_UNSPECIFIED"),
    Category: (types_pb2.Category, "", "CATEGORY_UNSPECIFIED"),
    Tier: (types_pb2.Tier, "", "TIER_UNSPECIFIED"),
    Priority: (types_pb2.Priority, "", "PRIORITY_UNSPECIFIED"),
    ContactChannel: (types_pb2.ContactChannel, "CONTACT_", "CONTACT_CHANNEL_UNSPECIFIED"),
    ActorKind: (types_pb2.Actor.Kind, "", "KIND_UNSPECIFIED"),
    EscalationReason: (events_pb2.EscalationReason, "", "ESCALATION_REASON_UNSPECIFIED"),
}


def _numbers(enum_type: type[Enum]) -> dict[Enum, int]:
    wrapper, prefix, zero = _PROTO[enum_type]
    return {
        member: int(wrapper.Value(zero if member.value == "UNSPECIFIED" else prefix + member.value))
        for member in enum_type
    }


def _names(enum_type: type[Enum]) -> dict[int, str]:
    wrapper, _, _ = _PROTO[enum_type]
    return {number: name for name, number in wrapper.items()}


# Looked up on every request and response: the mapping by name, computed once.
_TO_NUMBER: dict[Enum, int] = {m: n for t in _PROTO for m, n in _numbers(t).items()}
_TO_NAME: dict[type[Enum], dict[int, str]] = {t: _names(t) for t in _PROTO}


def to_proto(member: Enum | None) -> int:
    """The protobuf number of a domain member; None and UNSPECIFIED map to zero."""
    return 0 if member is None else _TO_NUMBER[member]


def from_proto(enum_type: type[E], number: int, field: str, *, required: bool = True) -> E | None:
    """The domain member for a protobuf number; zero is refused when `required`."""
    _, prefix, zero = _PROTO[enum_type]
    name = _TO_NAME[enum_type].get(number)
    if name is None:
        raise InvalidCommand(field, f"unknown value {number}")
    if name == zero:
        if required:
            raise InvalidCommand(field, "must be specified")
        return enum_type("UNSPECIFIED") if "UNSPECIFIED" in enum_type.__members__ else None
    return enum_type(name.removeprefix(prefix))


def require(enum_type: type[E], number: int, field: str) -> E:
    member = from_proto(enum_type, number, field, required=True)
    assert member is not None
    return member
