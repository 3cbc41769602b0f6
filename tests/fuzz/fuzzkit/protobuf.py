"""Hypothesis strategies for any protobuf message, built from its descriptor alone.

`messages(descriptor)` draws messages of that type with every field kind the language has:
scalars at their edges (int64 extremes, NaN and infinities, unknown enum numbers, which proto3's
open enums keep), strings with odd Unicode (combining marks, bidi overrides, NUL, very long
runs), bytes, nested and recursive messages (cut at a depth), repeated fields, maps and oneofs
(each member, or none), and Timestamps at and past the ends of what a datetime holds. `hints`
give chosen fields (by name, at any depth; see `_hint`) values from a strategy of the test's,
mixed with the random ones: ids of cases that exist, valid e-mail addresses, so that part of
the input gets past validation to the code behind it.

`mutations(template)` starts from a valid message and spoils a few of its fields (a random
value, or cleared), which reaches deeper than purely random messages; `serialized` adds unknown
fields now and then. `raw_requests(valid)` is what a client that does not speak the schema
sends instead: random bytes, and valid bytes flipped, cut or extended.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

Hints = Mapping[str, st.SearchStrategy[Any]]
MAX_DEPTH = 4
# What a repeated field of a drawn request holds at most: past intake's receive limit (about
# 4 MiB), not so much that sending it is what the run spends its time on.
MANY_BYTES = 6 * 2**20
# Characters that break naive text handling: NUL and other controls, a BOM, zero-width and
# bidi-override marks, a combining accent, Cyrillic, an astral-plane emoji, the line separator.
ODD_CHARACTERS = "\x00\x01\x07\x1b\x7f\ufeff\u200b\u200d\u202e\u2066\u0301АяЁ\U0001f600\u2028\ufffd"
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each `weight` times as likely as a weight of 1 (hypothesis's
    one_of merges a strategy listed twice, so that would not weigh it; a flatmap over the pool
    also draws faster than a one_of of distinct copies)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(_itself)


def _itself(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy


def message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


def integers(low: int, high: int) -> st.SearchStrategy[int]:
    """Small numbers (what validation sees most), the type's edges, and anything between."""
    edges = sorted({low, high, 0, 1, -1, low + 1, high - 1, 2**31 - 1, -(2**31), 2**32 - 1})
    return st.one_of(
        st.integers(max(low, -1000), min(high, 1000)),
        st.sampled_from([e for e in edges if low <= e <= high]),
        st.integers(low, high),
    )


def floats(width: Literal[32, 64]) -> st.SearchStrategy[float]:
    return st.one_of(
        st.sampled_from([0.0, -0.0, 1.0, math.nan, math.inf, -math.inf]),
        st.floats(width=width),
    )


def texts(max_size: int = 64, long_up_to: int = 5_000) -> st.SearchStrategy[str]:
    """Short Unicode text, odd characters, and now and then (one in seven) a long run."""
    unicode = st.characters(exclude_categories=["Cs"])  # a lone surrogate is no UTF-8
    short = st.text(unicode, max_size=max_size)
    odd = st.text(st.sampled_from(ODD_CHARACTERS) | unicode, max_size=max_size)
    runs = st.sampled_from(["a", "я", "9", " ", "\x00", "\u0301", "😀"])
    long = st.builds(lambda c, n: c * n, runs, st.integers(max_size, long_up_to))
    return weighted((3, short), (3, odd), (1, long))


def binaries(max_size: int = 64, long_up_to: int = 5_000) -> st.SearchStrategy[bytes]:
    short = st.binary(max_size=max_size)
    long = st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=4),
                     st.integers(max_size, long_up_to))  # fmt: skip
    return weighted((3, short), (1, long))


def enum_numbers(field: FieldDescriptor) -> st.SearchStrategy[int]:
    known = [value.number for value in field.enum_type.values]
    if field.enum_type.is_closed:  # proto2 enums refuse numbers they do not declare
        return st.sampled_from(known)
    return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in INT_RANGES:
        return integers(*INT_RANGES[kind])
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return floats(64)
    if kind == FieldDescriptor.TYPE_FLOAT:
        return floats(32)
    if kind == FieldDescriptor.TYPE_STRING:
        return texts()
    if kind == FieldDescriptor.TYPE_BYTES:
        return binaries()
    if kind == FieldDescriptor.TYPE_ENUM:
        return enum_numbers(field)
    raise TypeError(f"{field.full_name}: field type {kind} is not a scalar")


def _size(value: Any) -> int:
    if isinstance(value, Message):
        return value.ByteSize()
    return len(value) * 4 if isinstance(value, (str, bytes)) else 8


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


# Instants a consumer or handler meets: now-ish, the epoch, the ends of what a datetime holds
# (years 1 and 9999) and past them, the ends of int64, nanos out of their range.
FAR_SECONDS = [0, 1_772_000_000, 253_402_300_799, 253_402_300_800, -62_135_596_800,
               -62_135_596_801, 2**62, -(2**62), 2**63 - 1, -(2**63)]  # fmt: skip


def timestamps() -> st.SearchStrategy[Message]:
    from google.protobuf import timestamp_pb2

    seconds = st.sampled_from(FAR_SECONDS) | integers(-(2**63), 2**63 - 1)
    nanos = st.sampled_from([0, 999_999_999, 1_000_000_000, -1, 2**31 - 1]) | st.integers(0, 10**9)
    return st.builds(timestamp_pb2.Timestamp, seconds=seconds, nanos=nanos)


# Message types whose fields mean more than their wire types say.
WELL_KNOWN: dict[str, Callable[[], st.SearchStrategy[Message]]] = {
    "google.protobuf.Timestamp": timestamps,
}


def _value(field: FieldDescriptor, hints: Hints, depth: int) -> st.SearchStrategy[Any]:
    """One value of `field` (one element of a repeated one), hinted or random."""
    if field.message_type is not None and field.message_type.full_name in WELL_KNOWN:
        drawn: st.SearchStrategy[Any] = WELL_KNOWN[field.message_type.full_name]()
    elif field.message_type is not None:
        drawn = messages(field.message_type, hints, depth + 1)
    else:
        drawn = scalar(field)
    hint = _hint(field, hints)
    return drawn if hint is None else weighted((2, hint), (1, drawn))


def _hint(field: FieldDescriptor, hints: Hints) -> st.SearchStrategy[Any] | None:
    """A hint by the field's full name (`pkg.Message.field`) applies to that field whatever its
    type; one by its bare name only to string fields of that name (ids, numbers, addresses)."""
    hint = hints.get(field.full_name)
    if hint is None and field.type == FieldDescriptor.TYPE_STRING:
        hint = hints.get(field.name)
    return hint


def _field_setter(
    field: FieldDescriptor, hints: Hints, depth: int
) -> st.SearchStrategy[Callable[[Message], None]]:
    """A function that sets `field` of a message to drawn content."""
    name = field.name
    if _is_map(field):
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        entries = st.dictionaries(scalar(key_field), _value(value_field, hints, depth), max_size=4)

        def set_map(message: Message, items: dict[Any, Any]) -> None:
            target = getattr(message, name)
            for key, value in items.items():
                if value_field.message_type is not None:
                    target[key].CopyFrom(value)
                else:
                    target[key] = value

        return entries.map(lambda items: lambda message: set_map(message, items))
    if _is_repeated(field):
        # Mostly a few different ones; at the top level, now and then one element repeated
        # more often than a batch allows (CreateCases takes 256), up to a few MiB in all.
        element = _value(field, hints, depth)
        elements = st.lists(element, max_size=4 if depth == 0 else 2)
        if depth == 0:
            many = st.tuples(element, st.sampled_from([65, 256, 257, 1000])).map(
                lambda t: [t[0]] * min(t[1], max(1, MANY_BYTES // (_size(t[0]) + 1)))
            )
            elements = weighted((3, elements), (1, many))

        def set_repeated(message: Message, values: list[Any]) -> None:
            target = getattr(message, name)
            if field.message_type is not None:
                for value in values:
                    target.add().CopyFrom(value)
            else:
                target.extend(values)

        return elements.map(lambda values: lambda message: set_repeated(message, values))

    def set_single(message: Message, value: Any) -> None:
        if field.message_type is not None:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)

    return _value(field, hints, depth).map(lambda value: lambda message: set_single(message, value))


def messages(
    descriptor: Descriptor, hints: Hints | None = None, depth: int = 0
) -> st.SearchStrategy[Message]:
    """Messages of `descriptor`'s type; below MAX_DEPTH levels of nesting, only empty ones."""
    hints = hints or {}
    cls = message_class(descriptor)
    if depth >= MAX_DEPTH:
        return st.builds(cls)
    return st.deferred(lambda: _messages(descriptor, cls, hints, depth))


def _messages(
    descriptor: Descriptor, cls: type[Message], hints: Hints, depth: int
) -> st.SearchStrategy[Message]:
    in_oneof = {f.name for oneof in descriptor.oneofs for f in oneof.fields}
    plain = [f for f in descriptor.fields if f.name not in in_oneof]
    setters: list[st.SearchStrategy[Callable[[Message], None] | None]] = [
        st.none() | _field_setter(field, hints, depth) for field in plain
    ]
    for oneof in descriptor.oneofs:  # one member or none (also proto3 `optional`'s oneofs)
        members = [_field_setter(field, hints, depth) for field in oneof.fields]
        setters.append(st.none() | st.one_of(members))

    def build(chosen: list[Callable[[Message], None] | None]) -> Message:
        message = cls()
        for setter in chosen:
            if setter is not None:
                setter(message)
        return message

    return st.tuples(*setters).map(lambda chosen: build(list(chosen)))


def unknown_fields() -> st.SearchStrategy[bytes]:
    """A field the schema does not declare: valid wire format the parser keeps as unknown."""
    numbers = st.integers(1000, 2**29 - 1)
    varint = numbers.map(lambda n: _varint(n << 3) + _varint(n))
    delimited = st.tuples(numbers, st.binary(max_size=32)).map(
        lambda t: _varint(t[0] << 3 | 2) + _varint(len(t[1])) + t[1]
    )
    return st.one_of(varint, delimited)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def mutations(
    template: Message, hints: Hints | None = None, depth: int = 0
) -> st.SearchStrategy[Message]:
    """`template` with some of its fields replaced by random values, cleared or kept; set
    sub-messages are mutated the same way (down to MAX_DEPTH)."""
    hints = hints or {}
    descriptor = template.DESCRIPTOR
    actions: list[st.SearchStrategy[Callable[[Message], None] | None]] = []
    for field in descriptor.fields:
        name = field.name
        present = (
            bool(getattr(template, name))
            if _is_repeated(field) or not field.has_presence
            else template.HasField(name)
        )
        # Kept three times in four: a few fields spoiled at once, most of the request still valid.
        options: list[tuple[int, st.SearchStrategy[Callable[[Message], None] | None]]] = [
            (12, st.none()),
            (2, _field_setter(field, hints, depth)),
        ]
        if present:
            options.append((1, st.just(_clearing(name))))
            if field.message_type is not None and not _is_repeated(field) and depth < MAX_DEPTH:
                sub = mutations(getattr(template, name), hints, depth + 1)
                options.append((1, sub.map(functools.partial(_copying, name))))
        actions.append(weighted(*options))

    def apply(chosen: tuple[Callable[[Message], None] | None, ...]) -> Message:
        message = type(template)()
        message.CopyFrom(template)
        for action in chosen:
            if action is not None:
                action(message)
        return message

    return st.tuples(*actions).map(apply)


def _clearing(name: str) -> Callable[[Message], None]:
    return lambda message: message.ClearField(name)


def _copying(name: str, value: Message) -> Callable[[Message], None]:
    return lambda message: getattr(message, name).CopyFrom(value)


def serialized(strategy: st.SearchStrategy[Message]) -> st.SearchStrategy[bytes]:
    """The messages' bytes, sometimes with unknown fields appended (a newer client's)."""
    return st.tuples(strategy, st.lists(unknown_fields(), max_size=2)).map(
        lambda t: t[0].SerializeToString() + b"".join(t[1])
    )


def spoiled(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Valid bytes with bytes flipped, the tail cut or random bytes appended."""

    def flip(raw: bytes, at: int, byte: int) -> bytes:
        if not raw:
            return bytes([byte])
        at %= len(raw)
        return raw[:at] + bytes([byte]) + raw[at + 1 :]

    return st.one_of(
        st.tuples(valid, st.integers(0, 2**16), st.integers(0, 255)).map(lambda t: flip(*t)),
        st.tuples(valid, st.integers(1, 64)).map(lambda t: t[0][: -t[1]] if t[0] else b""),
        st.tuples(valid, st.binary(min_size=1, max_size=16)).map(lambda t: t[0] + t[1]),
    )


def raw_requests(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """What a client that does not speak the schema sends: random bytes, spoiled valid ones."""
    return st.one_of(st.binary(max_size=256), spoiled(valid))
