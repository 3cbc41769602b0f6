"""Commanding the case service: CaseService.Escalate over gRPC, retried safely.

Every request carries an idempotency key derived from the trigger, so sending it again (after a
timeout, an outage or a kill -9 of this process) returns the original result instead of escalating
twice. Unavailability is retried without limit, because a dropped escalation would be a silent
loss; an explicit refusal (the case is closed, already at that tier, unknown) ends the attempt and
is journaled as the reason the escalation did not happen.
"""

from __future__ import annotations

import asyncio

import grpc

from casedesk.case.v1 import case_service_pb2, case_service_pb2_grpc
from casedesk_escalation.application.ports import CommandResult
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

# The call may not have reached the case service, or it may succeed if tried again.
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
# The case service understood the command and says no: trying again would give the same answer.
REFUSALS = frozenset(
    {
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)


class CaseEscalator:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        timeout_s: float = 5.0,
        attempts_on_error: int = 5,
        first_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._stub = case_service_pb2_grpc.CaseServiceStub(channel)
        self._timeout_s = timeout_s
        self._attempts_on_error = attempts_on_error
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s

    async def escalate(self, command: bytes) -> CommandResult:
        """`command`: a serialized EscalateRequest, as the decision store keeps it."""
        request = case_service_pb2.EscalateRequest.FromString(command)
        errors = 0
        backoff = self._first_backoff_s
        while True:
            try:
                await self._stub.Escalate(request, timeout=self._timeout_s)
                return CommandResult(applied=True)
            except grpc.aio.AioRpcError as error:
                code = error.code()
                detail = (error.details() or "")[:300]
                if code in REFUSALS:
                    refusal = f"refused by the case service ({code.name}): {detail}"
                    return CommandResult(False, refusal)
                if code not in TRANSIENT:
                    errors += 1
                    if errors >= self._attempts_on_error:
                        return CommandResult(
                            False, f"the case service failed {errors} times ({code.name}): {detail}"
                        )
                log.warning(
                    "Escalate failed, retrying",
                    extra={"case_id": request.case_id, "code": code.name, "retry_in_s": backoff},
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
