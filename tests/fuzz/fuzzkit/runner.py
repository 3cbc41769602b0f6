"""Running a target: hypothesis settings for fuzzing, and the verdict on each gRPC answer."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, Phase, settings

from fuzzkit import known_bugs
from fuzzkit.calls import DEADLINE_S, Metadata, Outcome, call, problem, rpc_path
from fuzzkit.protobuf import message_class
from fuzzkit.stack import Stack
from fuzzkit.tally import Target

# Beyond the call's own deadline: the servers' loop is blocked, the call cannot even time out.
HANG_S = DEADLINE_S + 10.0
SHOWN_BYTES = 400


def fuzz_settings(examples: int) -> settings:
    """No per-example deadline (the calls have theirs), no example database (nothing written
    into the checkout), no shrinking (a failure's input is reported as it was sent: shrinking
    would replay calls against servers whose state moved on)."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def shown(raw: bytes) -> str:
    cut = raw[:SHOWN_BYTES]
    more = f" ... ({len(raw)} bytes in all)" if len(raw) > SHOWN_BYTES else ""
    return f"bytes.fromhex('{cut.hex()}'){more}"


def send(
    stack: Stack,
    target: Target,
    method: MethodDescriptor,
    port: int,
    certificate: str | None,
    metadata: Metadata,
    raw: bytes,
    context: str,
    expect: Callable[[Outcome], str | None] = problem,
) -> Outcome | None:
    """Send `raw` to `method`, count it on `target`, raise AssertionError with a reproducer
    when the answer breaks the contract (`expect`), a known bug's answer excepted."""

    async def go() -> Outcome:
        return await call(stack.channel(port, certificate), method, raw, metadata)

    request = f"request {shown(raw)}"
    logged_before = len(stack.logged.records)
    try:
        outcome = stack.run(go(), HANG_S)
    except TimeoutError:
        target.tried(HANG_S, "HANG")
        message = f"{context}: no answer within {HANG_S:.0f} s (the loop is stuck); {request}"
        target.failed(message)
        raise AssertionError(message) from None
    request_class = message_class(method.input_type)
    # Calls are sequential: what the servers logged meanwhile is this call's.
    logged = []
    for entry in stack.logged.take(logged_before):
        logged_bug = known_bugs.logged_bug(entry)
        if logged_bug is None:
            logged.append(entry)
        else:
            target.known[logged_bug.key] += 1
    trouble = (
        expect(outcome)
        or _undecodable_answer(outcome, method)
        or (f"{outcome.label}, but the server logged: {logged[0]}" if logged else None)
    )
    bug = known_bugs.grpc_bug(outcome, request_class, raw, rpc_path(method)) if trouble else None
    target.tried(outcome.seconds, bug.key if bug else outcome.label)
    if bug is not None:
        target.known[bug.key] += 1
        return outcome
    if trouble:
        message = f"{context} [{certificate or 'no certificate'}]: {trouble}; {request}"
        target.failed(message)
        raise AssertionError(message)
    return outcome


def _undecodable_answer(outcome: Outcome, method: MethodDescriptor) -> str | None:
    if outcome.code != grpc.StatusCode.OK and not outcome.response:
        return None
    try:
        message_class(method.output_type).FromString(outcome.response)
    except DecodeError as error:
        return f"the answer is no {method.output_type.full_name}: {error}"
    return None
