"""A watch stream its client cancels while messages are still being sent ends quietly: no error
in the server's log (found by the fuzzing as bug B8: OpenTelemetry's "Failed to detach
context", once per cancelled stream)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import grpc
from fuzzkit.calls import Outcome, call
from fuzzkit.planting import Known
from fuzzkit.stack import Stack

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

BEYOND_DATETIME = 2**62  # seconds: far past year 9999
CASE = case_pb2.DESCRIPTOR.services_by_name["CaseService"]
INTAKE = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"]
NOT_A_MESSAGE = bytes.fromhex("0a03fffefd")  # field 1 (a string) holding invalid UTF-8


def _send(stack: Stack, port: int, identity: str, rpc: object, raw: bytes, metadata=()) -> Outcome:  # type: ignore[no-untyped-def]
    async def go() -> Outcome:
        return await call(stack.channel(port, identity), rpc, raw, metadata)  # type: ignore[arg-type]

    return stack.run(go(), 30)


def _person(stack: Stack) -> tuple[tuple[str, str], ...]:
    token = stack.person_token("l3.sidorova", "L3", ["specialist", "supervisor", "auditor"])
    return (("x-person-token", token),)


# --- B8: a cancelled stream -----------------------------------------------------------------------


def test_b8_a_watch_cancelled_while_it_sends_logs_no_error(stack: Stack, known: Known) -> None:
    comment = CASE.methods_by_name["AddComment"]
    for index in range(40):  # history enough that the watch is cancelled while sending it
        request = case_pb2.AddCommentRequest(case_id=known.case_ids[3], body=f"b8-{index}",
                                             public=True)  # fmt: skip
        request.context.idempotency_key = f"b8-{index}-{datetime.now(UTC).timestamp()}"
        request.context.actor.kind, request.context.actor.id = 3, "intake"
        assert _send(stack, stack.case_port, "intake", comment,
                     request.SerializeToString()).code == grpc.StatusCode.OK  # fmt: skip
    before = len(stack.logged.records)
    watch = case_pb2.WatchCaseRequest(case_id=known.case_ids[3]).SerializeToString()
    for _ in range(5):
        _send(stack, stack.case_port, "desk", CASE.methods_by_name["WatchCase"], watch,
              _person(stack))  # fmt: skip

    async def collect() -> None:
        gc.collect()

    stack.run(collect(), 10)
    assert stack.logged.take(before) == []
