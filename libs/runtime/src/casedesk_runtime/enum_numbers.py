"""The vocabulary's enums <-> protobuf enum numbers, by name: the one mapping every wire uses.

A member maps to the proto member of the same name (`ContactChannel` adds the proto's `CONTACT_`
prefix); an `UNSPECIFIED` member, where the vocabulary has one, maps to the proto's zero.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_vocabulary.enums import (
    ActorKind,
    CaseType,
    Category,
    Channel,
    ContactChannel,
    DeadlineTarget,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

E = TypeVar("E", bound=Enum)

# vocabulary enum -> (protobuf enum wrapper, prefix of its member names, name of its zero member)
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
    DeadlineTarget: (sla_pb2.Target, "", "TARGET_UNSPECIFIED"),
}


def _numbers(enum_type: type[Enum]) -> dict[Enum, int]:
    wrapper, prefix, zero = _PROTO[enum_type]
    return {
        member: int(wrapper.Value(zero if member.value == "UNSPECIFIED" else prefix + member.value))
        for member in enum_type
    }


# Looked up on every request, reply and event: the mappings, computed once.
_TO_NUMBER: dict[Enum, int] = {m: n for t in _PROTO for m, n in _numbers(t).items()}
_TO_MEMBER: dict[type[Enum], dict[int, Enum]] = {
    t: {n: m for m, n in _numbers(t).items()} for t in _PROTO
}
_KNOWN: dict[type[Enum], frozenset[int]] = {
    t: frozenset(number for _, number in wrapper.items()) for t, (wrapper, _, _) in _PROTO.items()
}


def to_proto(member: Enum | None) -> int:
    """The protobuf number of a member; None (and UNSPECIFIED) map to zero."""
    return 0 if member is None else _TO_NUMBER[member]


def from_proto(enum_type: type[E], number: int) -> E | None:
    """The member of a number: UNSPECIFIED (or None, where the enum has none) for zero, None for a
    number the contract does not define (see `known`)."""
    return _TO_MEMBER[enum_type].get(number)  # type: ignore[return-value]


def known(enum_type: type[Enum], number: int) -> bool:
    """Whether the contract defines the number (zero included)."""
    return number in _KNOWN[enum_type]
