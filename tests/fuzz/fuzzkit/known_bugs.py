"""Bugs the fuzzing found and reported, each recognised by its exact signature.

The fuzz targets of `make test` tolerate an input that hits one of these (counted as `known=`
in its FUZZ line) so that the run stays green until the owner fixes it; anything else outside
the contract still fails the run. `tests/fuzz/found_bugs.py` holds a reproducer of each, which
fails until the bug is fixed: once it passes, delete the bug's entry here (and its reproducer
moves into the regular targets' guarantees). CASEDESK_FUZZ_STRICT=1 disables the tolerance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError, Message

from fuzzkit.calls import Outcome


@dataclass(frozen=True)
class KnownBug:
    key: str
    summary: str


UNDECODABLE_REQUEST = KnownBug(
    "B1-undecodable-request",
    "a request whose bytes are no valid message of the RPC's type is answered UNKNOWN "
    "(\"Unexpected <class 'google.protobuf.message.DecodeError'>: ...\") by grpc.aio, not "
    "INVALID_ARGUMENT; the request is decoded before authorisation, so an unauthorised caller "
    "gets the same UNKNOWN instead of PERMISSION_DENIED (every RPC of every service)",
)


def strict() -> bool:
    return os.environ.get("CASEDESK_FUZZ_STRICT") == "1"


def undecodable(request_class: type[Message], raw: bytes) -> bool:
    try:
        request_class.FromString(raw)
    except DecodeError:
        return True
    return False


def grpc_bug(
    outcome: Outcome, request_class: type[Message], raw: bytes, rpc: str = ""
) -> KnownBug | None:
    """The known bug an answer shows, None when it shows none (or CASEDESK_FUZZ_STRICT=1)."""
    if strict():
        return None
    unexpected = outcome.code == grpc.StatusCode.UNKNOWN and outcome.details.startswith
    if unexpected and unexpected("Unexpected <class 'google.protobuf.message.DecodeError'>"):
        return UNDECODABLE_REQUEST if undecodable(request_class, raw) else None
    return None


def logged_bug(logged: str) -> KnownBug | None:
    """The known bug a server log entry (`Type: message`, LoopErrors.take) shows, if any."""
    return None  # none known now: B8 is fixed (tests/fuzz/test_cancelled_streams.py)


def kafka_bug(
    consumer: str, error: BaseException, message_type: type[Message], value: bytes
) -> KnownBug | None:
    """The known bug a decoder's stray error shows, None when it shows none. None is known
    now: B2-B5 (instants past year 9999, unknown channels) are fixed and tested in
    tests/fuzz/test_unreadable_records.py."""
    return None
