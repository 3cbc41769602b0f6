"""Every vocabulary member has its protobuf number and back; unknown numbers are recognised."""

from __future__ import annotations

from casedesk.common.v1 import types_pb2
from casedesk_runtime.enum_numbers import _PROTO, from_proto, known, to_proto
from casedesk_vocabulary.enums import ContactChannel, Status, Tier


def test_every_member_round_trips_through_its_number() -> None:
    for enum_type in _PROTO:
        for member in enum_type:
            assert from_proto(enum_type, to_proto(member)) is member


def test_names_decide_the_numbers_prefix_and_zero_included() -> None:
    assert to_proto(Status.WAITING_FOR_CITIZEN) == types_pb2.WAITING_FOR_CITIZEN
    assert to_proto(ContactChannel.SMS_AND_EMAIL) == types_pb2.CONTACT_SMS_AND_EMAIL
    assert to_proto(ContactChannel.UNSPECIFIED) == 0 and to_proto(None) == 0
    assert from_proto(Tier, 0) is None  # no UNSPECIFIED member: zero reads as "not given"
    assert known(Tier, 0) and known(Tier, types_pb2.L3) and not known(Tier, 99)
    assert from_proto(Tier, 99) is None
