"""A watch stream its client cancels while messages are still being sent ends quietly: no error
in the server's log (found by the fuzzing as bug B8: OpenTelemetry's "Failed to detach
context", once per cancelled stream)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import grpc
from fuzzkit.planting import Known
from fuzzkit.reproducing import CASE, person, send
from fuzzkit.stack import Stack

from casedesk.case.v1 import case_service_pb2 as case_pb2

# --- B8: a cancelled stream -----------------------------------------------------------------------


def test_b8_a_watch_cancelled_while_it_sends_logs_no_error(stack: Stack, known: Known) -> None:
    comment = CASE.methods_by_name["AddComment"]
    for index in range(40):  # history enough that the watch is cancelled while sending it
        request = case_pb2.AddCommentRequest(case_id=known.case_ids[3], body=f"b8-{index}",
                                             public=True)  # fmt: skip
        request.context.idempotency_key = f"b8-{index}-{datetime.now(UTC).timestamp()}"
        request.context.actor.kind, request.context.actor.id = 3, "intake"
        assert send(stack, stack.case_port, "intake", comment,
                     request.SerializeToString()).code == grpc.StatusCode.OK  # fmt: skip
    before = len(stack.logged.records)
    watch = case_pb2.WatchCaseRequest(case_id=known.case_ids[3]).SerializeToString()
    for _ in range(5):
        send(stack, stack.case_port, "desk", CASE.methods_by_name["WatchCase"], watch,
              person(stack))  # fmt: skip

    async def collect() -> None:
        gc.collect()

    stack.run(collect(), 10)
    assert stack.logged.take(before) == []
