"""The descriptor-driven strategies reach every kind of field, not only those the contracts use
today (no maps, floats or zigzag integers yet): a schema with all of them, built here."""

from __future__ import annotations

import math
from collections import Counter

from fuzzkit.protobuf import MAX_DEPTH, messages, mutations, serialized
from fuzzkit.runner import fuzz_settings
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from hypothesis import given, settings

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "a_double": F.TYPE_DOUBLE, "a_float": F.TYPE_FLOAT, "an_int64": F.TYPE_INT64,
    "a_uint64": F.TYPE_UINT64, "an_int32": F.TYPE_INT32, "a_fixed64": F.TYPE_FIXED64,
    "a_fixed32": F.TYPE_FIXED32, "a_bool": F.TYPE_BOOL, "a_string": F.TYPE_STRING,
    "a_bytes": F.TYPE_BYTES, "a_uint32": F.TYPE_UINT32, "an_sfixed32": F.TYPE_SFIXED32,
    "an_sfixed64": F.TYPE_SFIXED64, "an_sint32": F.TYPE_SINT32, "an_sint64": F.TYPE_SINT64,
}  # fmt: skip
DRAWS = 150


def derandomized() -> settings:
    """The same draws every run: what is asserted is how the strategies cover a schema, which
    must not depend on the luck of one run."""
    return settings(fuzz_settings(DRAWS), derandomize=True)


# The schema is recursive (a child, children, a map of them): two levels of it are plenty here.
FROM_DEPTH = MAX_DEPTH - 2


def every_kind() -> Descriptor:
    """`fuzz.Everything`: every scalar type, an enum, a nested and a recursive message,
    repeated fields, a map of messages, a map of enums and a oneof."""
    file = descriptor_pb2.FileDescriptorProto(name="fuzz/everything.proto", package="fuzz",
                                              syntax="proto3")  # fmt: skip
    file.enum_type.add(name="Colour").value.extend(
        [
            descriptor_pb2.EnumValueDescriptorProto(name=n, number=i)
            for i, n in enumerate(["COLOUR_UNSPECIFIED", "RED", "GREEN"])
        ]
    )
    message = file.message_type.add(name="Everything")
    number = iter(range(1, 100))
    for name, kind in SCALARS.items():
        message.field.add(name=name, number=next(number), type=kind, label=F.LABEL_OPTIONAL)
    message.field.add(name="colour", number=next(number), type=F.TYPE_ENUM,
                      type_name=".fuzz.Colour", label=F.LABEL_OPTIONAL)  # fmt: skip
    message.field.add(name="child", number=next(number), type=F.TYPE_MESSAGE,
                      type_name=".fuzz.Everything", label=F.LABEL_OPTIONAL)  # fmt: skip
    message.field.add(name="names", number=next(number), type=F.TYPE_STRING,
                      label=F.LABEL_REPEATED)  # fmt: skip
    message.field.add(name="children", number=next(number), type=F.TYPE_MESSAGE,
                      type_name=".fuzz.Everything", label=F.LABEL_REPEATED)  # fmt: skip
    for map_name, value_type, value_type_name in (
        ("by_name", F.TYPE_MESSAGE, ".fuzz.Everything"),
        ("colours", F.TYPE_ENUM, ".fuzz.Colour"),
    ):
        entry = message.nested_type.add(name=f"{map_name.title().replace('_', '')}Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=value_type, type_name=value_type_name,
                        label=F.LABEL_OPTIONAL)  # fmt: skip
        message.field.add(name=map_name, number=next(number), type=F.TYPE_MESSAGE,
                          type_name=f".fuzz.Everything.{entry.name}",
                          label=F.LABEL_REPEATED)  # fmt: skip
    message.oneof_decl.add(name="choice")
    for name in ("either", "or_else"):
        message.field.add(name=name, number=next(number), type=F.TYPE_STRING,
                          label=F.LABEL_OPTIONAL, oneof_index=0)  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool.FindMessageTypeByName("fuzz.Everything")


def test_drawn_messages_set_every_kind_of_field_and_survive_the_wire() -> None:
    descriptor = every_kind()
    seen: Counter[str] = Counter()
    unknown_colours = edges = odd_floats = 0

    @derandomized()
    @given(messages(descriptor, depth=FROM_DEPTH))
    def draw(message) -> None:  # type: ignore[no-untyped-def]
        nonlocal unknown_colours, edges, odd_floats
        copy = type(message).FromString(message.SerializeToString())
        nan = math.isnan(message.a_double) or math.isnan(message.a_float)
        assert copy == message or nan  # NaN is unequal to itself

        assert message.WhichOneof("choice") in (None, "either", "or_else")
        seen.update(field.name for field, _ in message.ListFields())
        unknown_colours += message.colour not in (0, 1, 2)
        edges += message.an_int64 in (2**63 - 1, -(2**63))
        odd_floats += math.isnan(message.a_double) or math.isinf(message.a_double)

    draw()
    missing = {f.name for f in descriptor.fields} - set(seen)
    assert not missing, f"never set: {sorted(missing)}"
    assert unknown_colours and edges and odd_floats


def test_a_mutated_message_keeps_most_of_its_template() -> None:
    descriptor = every_kind()
    template = descriptor_pool_message(descriptor)
    kept = 0

    @derandomized()
    @given(mutations(template, depth=FROM_DEPTH))
    def draw(message) -> None:  # type: ignore[no-untyped-def]
        nonlocal kept
        kept += message.a_string == template.a_string and message.names == template.names

    draw()
    assert DRAWS // 4 < kept < DRAWS, kept


def test_serialized_messages_may_carry_unknown_fields_and_still_parse() -> None:
    descriptor = every_kind()
    message_class = message_factory.GetMessageClass(descriptor)
    with_unknown = 0

    @derandomized()
    @given(serialized(messages(descriptor, depth=FROM_DEPTH)))
    def draw(raw: bytes) -> None:
        nonlocal with_unknown
        parsed = message_class.FromString(raw)
        known = parsed.SerializeToString()
        parsed.DiscardUnknownFields()
        with_unknown += len(parsed.SerializeToString()) < len(known)

    draw()
    assert with_unknown


def descriptor_pool_message(descriptor: Descriptor) -> Message:
    message = message_factory.GetMessageClass(descriptor)(a_string="kept", names=["a", "b"])
    message.colours["x"] = 1  # type: ignore[attr-defined]
    message.child.a_bool = True  # type: ignore[attr-defined]
    return message
