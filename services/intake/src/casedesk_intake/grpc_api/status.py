"""Intake's refusals as gRPC statuses with the standard google.rpc details."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from casedesk_intake.domain.errors import (
    CaseNotFound,
    CaseServiceError,
    CitizenErased,
    IdempotencyKeyReused,
    IdentityProviderUnavailable,
    IntakeError,
    InvalidRequest,
    KeyServiceUnavailable,
    NotYourCase,
    RateLimited,
    StoreUnavailable,
    Unauthenticated,
)
from casedesk_runtime.grpc_errors import STATUS_DETAILS_KEY, bad_request_status

_SIMPLE = {
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    NotYourCase: grpc.StatusCode.PERMISSION_DENIED,
    IdempotencyKeyReused: grpc.StatusCode.ALREADY_EXISTS,
    CaseNotFound: grpc.StatusCode.NOT_FOUND,
    IdentityProviderUnavailable: grpc.StatusCode.UNAVAILABLE,
    StoreUnavailable: grpc.StatusCode.UNAVAILABLE,
    KeyServiceUnavailable: grpc.StatusCode.UNAVAILABLE,
    CitizenErased: grpc.StatusCode.FAILED_PRECONDITION,
}
# The violation type of an erased citizen, as the case service and the key service answer it.
ERASED = "ERASED"
# What the case service says about the request itself is the frontend's business too.
_PASSED_ON = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
_TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def status_code_of(refusal: IntakeError) -> grpc.StatusCode:
    if isinstance(refusal, InvalidRequest):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(refusal, RateLimited):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(refusal, CaseServiceError):
        if refusal.code in _PASSED_ON:
            return refusal.code  # type: ignore[return-value]
        if refusal.code in _TRANSIENT:
            return grpc.StatusCode.UNAVAILABLE
        return grpc.StatusCode.INTERNAL
    return _SIMPLE.get(type(refusal), grpc.StatusCode.INTERNAL)


def rate_limited_status(refusal: RateLimited) -> grpc.Status:
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(max(1, round(refusal.retry_after * 1000)))
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return rpc_status.to_status(
        status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(refusal), details=[packed])
    )


def erased_status(refusal: CitizenErased) -> grpc.Status:
    """FAILED_PRECONDITION with a PreconditionFailure violation of type ERASED: the citizen's
    data key was destroyed, so nothing new is kept for him."""
    violation = error_details_pb2.PreconditionFailure.Violation(
        type=ERASED, subject="citizen", description=str(refusal)
    )
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.PreconditionFailure(violations=[violation]))
    return rpc_status.to_status(
        status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=str(refusal), details=[packed])
    )


async def abort_with(
    context: grpc.aio.ServicerContext, refusal: Exception, precondition: str = ""
) -> NoReturn:
    """`precondition`: what a FAILED_PRECONDITION of the case service means for this call, said
    before the case service's own words."""
    if isinstance(refusal, InvalidRequest):
        await context.abort_with_status(bad_request_status(refusal.violations))
    elif isinstance(refusal, RateLimited):
        await context.abort_with_status(rate_limited_status(refusal))
    elif isinstance(refusal, CaseServiceError):
        await _abort_for_case_service(context, refusal, precondition)
    elif isinstance(refusal, CitizenErased):
        await context.abort_with_status(erased_status(refusal))
    elif isinstance(refusal, IntakeError):
        await context.abort(status_code_of(refusal), str(refusal))
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    raise AssertionError("unreachable: abort raises")


def _restated(details: object, message: str) -> tuple[str, bytes]:
    """The case service's google.rpc.Status with intake's message (a client's
    `rpc_status.from_call` requires the two messages to agree), its details unchanged."""
    status = status_pb2.Status()
    status.ParseFromString(details if isinstance(details, bytes) else str(details).encode())
    status.message = message
    return STATUS_DETAILS_KEY, status.SerializeToString()


async def _abort_for_case_service(
    context: grpc.aio.ServicerContext, refusal: CaseServiceError, precondition: str
) -> NoReturn:
    code = status_code_of(refusal)
    if code in _PASSED_ON:
        details = tuple(
            (key, value) for key, value in (refusal.trailing or ()) if key == STATUS_DETAILS_KEY
        )
        message = str(refusal)
        if precondition and code == grpc.StatusCode.FAILED_PRECONDITION:
            message = f"{precondition} (the case service: {message})"
            details = tuple(_restated(value, message) for _, value in details)
        await context.abort(code, message, details)
    if code == grpc.StatusCode.UNAVAILABLE:
        await context.abort(
            code, "the case service is unavailable; retry with the same idempotency key"
        )
    await context.abort(code, "the case service failed")
    raise AssertionError("unreachable: abort raises")
