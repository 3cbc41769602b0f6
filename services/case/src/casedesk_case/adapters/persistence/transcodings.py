"""How the domain's enums and value objects are stored inside events and snapshots (JSON).

Stored names are explicit ("casedesk.Status"), not Python paths, so stored events survive moving
classes between modules. Changing a value object's fields needs an upcaster, like an event.
"""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum
from json import encoder as json_encoder
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from casedesk_case.domain import values
from casedesk_case.domain.values import (
    Actor,
    AnswerRating,
    Attachment,
    CallbackOwed,
    CaseContent,
    Citizen,
    Comment,
    EventContext,
    Origin,
)

_ENUMS: tuple[type[Enum], ...] = (
    values.Status,
    values.Channel,
    values.CaseType,
    values.Category,
    values.Tier,
    values.Priority,
    values.ContactChannel,
    values.ActorKind,
    values.EscalationReason,
    values.CloseReason,
    values.CallbackPurpose,
)
_VALUE_OBJECTS: tuple[type, ...] = (
    Actor,
    EventContext,
    Citizen,
    CaseContent,
    Origin,
    Attachment,
    Comment,
    AnswerRating,
    CallbackOwed,
)


class EnumAsValue(Transcoding):
    def __init__(self, enum_type: type[Enum]) -> None:
        self.type = enum_type
        self.name = f"casedesk.{enum_type.__name__}"

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


class ValueObjectAsDict(Transcoding):
    """A frozen dataclass as a dict of its fields; nested objects are transcoded recursively."""

    def __init__(self, value_type: type) -> None:
        self.type = value_type
        self.name = f"casedesk.{value_type.__name__}"
        hints = typing.get_type_hints(value_type)
        self._fields = tuple(f.name for f in dataclasses.fields(value_type))
        # JSON has no tuples: remember which fields to turn back from lists.
        self._tuple_fields = tuple(
            name for name in self._fields if typing.get_origin(hints[name]) is tuple
        )

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self._fields}

    def decode(self, data: dict[str, Any]) -> Any:
        for name in self._tuple_fields:
            if name in data:
                data[name] = tuple(data[name])
        return self.type(**data)


class TreeJSONTranscoder(JSONTranscoder):
    """eventsourcing's JSONTranscoder, writing the same bytes without its check for circular
    references: the json module keeps an id of every dict and list it enters, a fifth of the
    encoding's cost, and an event's state is a tree of values (a cycle would be a bug, reported
    as a RecursionError instead of a ValueError)."""

    def __init__(self) -> None:
        super().__init__()
        # The C encoder json.JSONEncoder uses itself (None where the accelerator is missing).
        make = getattr(json_encoder, "c_make_encoder", None)
        # The arguments json.JSONEncoder.iterencode passes for the library's settings
        # (separators "," and ":", ensure_ascii off), but no markers for the check.
        self._iterencode = (
            make(None, self._encode_obj, json_encoder.encode_basestring, None, ":", ",",
                 False, False, True)
            if make is not None
            else None
        )  # fmt: skip

    def encode(self, obj: Any) -> bytes:
        if self._iterencode is None:  # no C accelerator: the library's own way
            return super().encode(obj)
        return "".join(self._iterencode(obj, 0)).encode("utf8")


TRANSCODER_TOPIC = "casedesk_case.adapters.persistence.transcodings:TreeJSONTranscoder"


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for enum_type in _ENUMS:
        transcoder.register(EnumAsValue(enum_type))
    for value_type in _VALUE_OBJECTS:
        transcoder.register(ValueObjectAsDict(value_type))
