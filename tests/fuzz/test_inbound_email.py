"""Random RFC 5322 messages through IngestEmail of the real intake server (fuzzkit/mail.py).

Through the RPC, not the parser's functions: whatever intake does with a raw message (parse it
on or off its event loop, with whichever limits, look up the numbers in its subject, register a
case or a comment) is covered, as the e-mail gateway meets it. Every message must be answered
within the deadline, with OK carrying an outcome (a new case or a comment), or with a deliberate
refusal; an INVALID_ARGUMENT must name the raw message as what is wrong (the idempotency key the
gateway sends is always valid here). The FUZZ line also gives the longest time intake's event
loop was held while the messages were handled (`loop_block_ms`): every other call waits that long.
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from fuzzkit import tally
from fuzzkit.callers import CITIZEN_LOGIN
from fuzzkit.calls import Outcome, problem
from fuzzkit.mail import mails
from fuzzkit.planting import Known
from fuzzkit.runner import fuzz_settings, send
from fuzzkit.stack import FRONTEND_TOKENS, Stack
from hypothesis import given

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

INGEST = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].methods_by_name["IngestEmail"]
# The mail-related RPC is the most exposed parser: twice the inputs of an ordinary target.
SCALE = 2


def gateways(stack: Stack) -> dict[str, tuple[tuple[str, str], ...]]:
    """The mail gateway alone, and a portal frontend that proved the citizen who wrote."""
    return {
        "mail gateway": (("authorization", f"Bearer {FRONTEND_TOKENS['mail-gateway'][0]}"),),
        "portal frontend with the citizen": (
            ("authorization", f"Bearer {FRONTEND_TOKENS['desk-all'][0]}"),
            ("x-citizen-token", stack.citizen_token(CITIZEN_LOGIN)),
        ),
    }


def answered(outcome: Outcome) -> str | None:
    trouble = problem(outcome)
    if trouble is not None:
        return trouble
    if outcome.code == grpc.StatusCode.OK:
        reply = intake_pb2.IngestEmailResponse.FromString(outcome.response)
        if reply.WhichOneof("outcome") is None:
            return "OK without an outcome (neither created nor commented)"
    if outcome.code == grpc.StatusCode.INVALID_ARGUMENT and not any(
        field.startswith("raw_message") for field, _ in outcome.violations
    ):
        return f"INVALID_ARGUMENT not naming raw_message: {outcome.details!r} {outcome.violations}"
    return None


@pytest.mark.parametrize("gateway", ["mail gateway", "portal frontend with the citizen"])
def test_every_message_gets_an_outcome_or_a_refusal_naming_it(
    stack: Stack, known: Known, gateway: str
) -> None:
    metadata = gateways(stack)[gateway]
    target = tally.target(f"email:IngestEmail as {gateway}")
    stack.reset_lag()

    @fuzz_settings(tally.examples(SCALE))
    @given(mails(known.numbers))
    def fuzz(raw_message: bytes) -> None:
        # A new key for each message (hypothesis's uuids repeat): a repeated key would only
        # replay the first answer or refuse the message as a reuse.
        key = uuid.uuid4()
        request = intake_pb2.IngestEmailRequest(
            idempotency_key=f"<{key}@mail.example.ru>", raw_message=raw_message
        )
        send(stack, target, INGEST, stack.intake_port, "frontend", metadata,
             request.SerializeToString(), f"IngestEmail as {gateway}", expect=answered)  # fmt: skip

    try:
        fuzz()
    finally:
        target.extra["loop_block_ms"] = round(stack.max_loop_block_s * 1000)
    assert target.failures == 0
