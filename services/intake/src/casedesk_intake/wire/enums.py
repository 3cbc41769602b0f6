"""Domain enums <-> protobuf enum numbers, by name."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_vocabulary.enums import (
    ActorKind,
    CaseType,
    Category,
    Channel,
    ContactChannel,
    EscalationReason,
    Status,
)

E = TypeVar("E", bound=Enum)

# domain enum -> (protobuf enum wrapper, prefix of its member names, name of its zero member)
_PROTO: dict[type[Enum], tuple[Any, str, str]] = {
    Status: (types_pb2.Status, "", "STATUS_UNSPECIFIED"),
    Channel: (types_pb2.Channel, "", "CHANNEL_UNSPECIFIED"),
    CaseType: (types_pb2.CaseType, "", "CASE_TYPE_UNSPECIFIED"),
    Category: (types_pb2.Category, "", "CATEGORY_UNSPECIFIED"),
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


# Looked up on every request and reply: the mappings, computed once.
_TO_NUMBER: dict[Enum, int] = {m: n for t in _PROTO for m, n in _numbers(t).items()}
_TO_MEMBER: dict[type[Enum], dict[int, Enum]] = {
    t: {n: m for m, n in _numbers(t).items()} for t in _PROTO
}


def to_proto(member: Enum | None) -> int:
    """The protobuf number of a domain member; None maps to zero."""
    return 0 if member is None else _TO_NUMBER[member]


def from_proto(enum_type: type[E], number: int) -> E | None:
    """The domain member of a number; None for zero (unless the enum has UNSPECIFIED) and for a
    number nobody knows (see `known`)."""
    member = _TO_MEMBER[enum_type].get(number)
    return member  # type: ignore[return-value]


def known(enum_type: type[Enum], number: int) -> bool:
    """Whether a number is zero or a member's: what the frontend sent can be read."""
    return number == 0 or number in _TO_MEMBER[enum_type]
