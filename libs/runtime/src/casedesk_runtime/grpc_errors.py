"""Rich gRPC errors: INVALID_ARGUMENT carrying google.rpc.BadRequest field violations, and, on
the client side, one reading of any refusal's details (a call's, a refusal passed on, a batch
item's): its field violations and its PreconditionFailure types.

Frontends show the violation next to the field it names, so the message says what is wrong with
the value and never repeats the value itself (it may be personal data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn, TypeAlias

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

FieldViolation = tuple[str, str]
# The trailer that carries a serialized google.rpc.Status with the error's details.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# A call's trailing metadata, as grpc gives it.
Metadata: TypeAlias = Iterable[tuple[str, str | bytes]]
# Where a refusal's rich status is read from (status_details).
StatusSource: TypeAlias = grpc.aio.AioRpcError | Metadata | bytes | None


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


def status_details(source: StatusSource) -> list[any_pb2.Any]:
    """Client side: the details (google.protobuf.Any) of a refusal's rich status, empty if it has
    none or they do not parse. `source`: a failed call; its trailing metadata (a refusal passed
    on); or a serialized google.rpc.Status (a batch's per-item refusal, which is no call's)."""
    if isinstance(source, grpc.aio.AioRpcError):
        source = source.trailing_metadata()
    raw = source if isinstance(source, bytes) else _details_trailer(source)
    if not raw:
        return []
    try:
        return list(status_pb2.Status.FromString(raw).details)
    except DecodeError:
        return []


def field_violations(source: StatusSource) -> list[FieldViolation]:
    """Client side: the BadRequest violations a refusal carries (empty if none)."""
    found: list[FieldViolation] = []
    for detail in status_details(source):
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.extend((v.field, v.description) for v in bad_request.field_violations)
    return found


def precondition_violations(source: StatusSource) -> list[tuple[str, str]]:
    """Client side: the (type, subject) of each PreconditionFailure violation a refusal
    carries (`("ERASED", "case/<id>")`, ...; empty if none)."""
    found: list[tuple[str, str]] = []
    for detail in status_details(source):
        failure = error_details_pb2.PreconditionFailure()
        if detail.Unpack(failure):
            found.extend((v.type, v.subject) for v in failure.violations)
    return found


def precondition_types(source: StatusSource) -> set[str]:
    """Client side: the types of a refusal's PreconditionFailure violations (ERASED,
    ANSWER_MISSING, ...): what a FAILED_PRECONDITION is about, told apart without reading its
    words."""
    return {kind for kind, _ in precondition_violations(source)}


def _details_trailer(trailing: Metadata | None) -> bytes:
    for key, value in trailing or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return value
    return b""
