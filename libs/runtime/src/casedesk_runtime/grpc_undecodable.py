"""Which field of a request makes it undecodable: for the INVALID_ARGUMENT `grpc_decoding` sends.

protobuf's parser says only that a message "was corrupt". A client that sends one mostly has one
bad field (a string that is not UTF-8, a message of another version of the contract), so the
request's top-level fields are split by their wire framing and decoded one at a time; the first
that fails is the one named, followed into a nested message as far as the failure goes
(`citizen.full_name`). When the framing itself is broken (truncated bytes) no field is named.

This runs only on a request that failed to decode, never on a valid one, and within bounds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

_VARINT, _FIXED64, _DELIMITED, _FIXED32 = 0, 1, 2, 5
# Bounds on the walk, so that a hostile request (millions of one-byte fields) costs little more
# than its failed decode: past them no field is named.
_MAX_DEPTH = 8  # past any Casedesk message's nesting
_MAX_FIELDS = 1024  # per message


def undecodable_field(descriptor: Descriptor, raw: bytes) -> str | None:
    """The dotted path of the field of a `descriptor` message that fails to decode in `raw`,
    None when none can be named."""
    return _failing_path(descriptor, raw, _MAX_DEPTH)


def _failing_path(descriptor: Descriptor, raw: bytes, depth: int) -> str | None:
    decode = message_factory.GetMessageClass(descriptor).FromString
    try:
        spans = list(itertools.islice(_fields(raw), _MAX_FIELDS))
    except ValueError:
        return None
    for number, wire_type, start, end in spans:
        try:
            decode(raw[start:end])
            continue
        except Exception:  # DecodeError: this field is the one
            pass
        field = descriptor.fields_by_number.get(number)
        if field is None:
            return None
        nested = _nested_failure(field, wire_type, raw, start, depth)
        return f"{field.name}.{nested}" if nested else field.name
    return None


def _nested_failure(
    field: FieldDescriptor, wire_type: int, raw: bytes, start: int, depth: int
) -> str | None:
    if field.type != FieldDescriptor.TYPE_MESSAGE or wire_type != _DELIMITED or depth <= 0:
        return None
    if field.message_type.GetOptions().map_entry:
        return None  # an entry's key/value are no fields the caller wrote: the map's name is
    _, at = _varint(raw, start)  # the tag
    length, at = _varint(raw, at)
    return _failing_path(field.message_type, raw[at : at + length], depth - 1)


def _fields(raw: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each top-level field; ValueError if misframed."""
    at = 0
    while at < len(raw):
        start = at
        tag, at = _varint(raw, at)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire_type == _VARINT:
            _, at = _varint(raw, at)
        elif wire_type == _FIXED64:
            at += 8
        elif wire_type == _DELIMITED:
            length, at = _varint(raw, at)
            at += length
        elif wire_type == _FIXED32:
            at += 4
        else:
            raise ValueError(f"wire type {wire_type}")  # groups: in no Casedesk contract
        if at > len(raw):
            raise ValueError("truncated")
        yield number, wire_type, start, at


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(raw) and shift < 64:
        byte = raw[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")
