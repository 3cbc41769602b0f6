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

from google.protobuf.message import Message

from fuzzkit.calls import Outcome


@dataclass(frozen=True)
class KnownBug:
    key: str
    summary: str


def strict() -> bool:
    return os.environ.get("CASEDESK_FUZZ_STRICT") == "1"


def grpc_bug(
    outcome: Outcome, request_class: type[Message], raw: bytes, rpc: str = ""
) -> KnownBug | None:
    """The known bug an answer shows, None when it shows none (or CASEDESK_FUZZ_STRICT=1).
    None is known now: B1 (a request that is no message, answered UNKNOWN) is fixed and tested
    in tests/fuzz/test_undecodable_requests.py."""
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
