"""Rich gRPC errors: INVALID_ARGUMENT carrying google.rpc.BadRequest field violations, and the
types of a FAILED_PRECONDITION's google.rpc.PreconditionFailure read on the client side.

Frontends show the violation next to the field it names, so the message says what is wrong with
the value and never repeats the value itself (it may be personal data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

FieldViolation = tuple[str, str]
# The trailer that carries a serialized google.rpc.Status with the error's details.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


def bad_request_status(violations: Iterable[FieldViolation], message: str = "") -> grpc.Status:
    violations = list(violations)
    details = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
            for f, d in violations
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(details)
    summary = message or "; ".join(f"{f}: {d}" for f, d in violations)
    return rpc_status.to_status(
        status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=summary, details=[packed])
    )


async def abort_invalid(
    context: grpc.aio.ServicerContext, violations: Iterable[FieldViolation], message: str = ""
) -> NoReturn:
    await context.abort_with_status(bad_request_status(violations, message))
    raise AssertionError("unreachable: abort_with_status raises")


def field_violations(error: grpc.aio.AioRpcError) -> list[FieldViolation]:
    """Client side: the BadRequest violations an error carries (empty if none)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: list[FieldViolation] = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend((v.field, v.description) for v in bad_request.field_violations)
    return found


def precondition_types(error: grpc.aio.AioRpcError) -> set[str]:
    """Client side: the types of the PreconditionFailure violations an error carries (ERASED,
    ANSWER_MISSING, ...; empty if none): what a FAILED_PRECONDITION is about, told apart
    without reading its words."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: set[str] = set()
    for detail in status.details if status else []:
        failure = error_details_pb2.PreconditionFailure()
        if detail.Unpack(failure):
            found.update(v.type for v in failure.violations)
    return found
