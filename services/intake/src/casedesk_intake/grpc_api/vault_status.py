"""AttachmentVaultService's refusals as gRPC statuses.

The case service's answer about the case is passed on as it came (NOT_FOUND, PERMISSION_DENIED,
UNAUTHENTICATED, INVALID_ARGUMENT, FAILED_PRECONDITION ERASED, with its details): the desk shows
the person what the case service decided about him. Intake's own refusals name the field or the
reason; an erased file is FAILED_PRECONDITION with a `google.rpc.PreconditionFailure` of type
ERASED, so the desk can tell it without reading the message.
"""

from __future__ import annotations

import collections

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from casedesk_intake.domain.errors import (
    AttachmentDamaged,
    AttachmentErased,
    AttachmentNotFound,
    CaseServiceError,
    IntakeError,
    InvalidRequest,
    KeyServiceUnavailable,
    Unauthenticated,
)
from casedesk_runtime.grpc_errors import STATUS_DETAILS_KEY, bad_request_status

ERASED = "ERASED"
_PASSED_ON = frozenset(
    {
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.INVALID_ARGUMENT,
        # A sealing case service's answer for an erased citizen's case (ERASED, with details).
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
_TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def vault_status(refusal: IntakeError) -> grpc.Status:
    if isinstance(refusal, CaseServiceError):
        return _case_service_status(refusal)
    if isinstance(refusal, InvalidRequest):
        return bad_request_status(refusal.violations)
    if isinstance(refusal, AttachmentNotFound):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=refusal.field, description=str(refusal)
        )
        detail = error_details_pb2.BadRequest(field_violations=[violation])
        return _status(code_pb2.NOT_FOUND, str(refusal), detail)
    if isinstance(refusal, AttachmentErased):
        erased = error_details_pb2.PreconditionFailure.Violation(
            type=ERASED, subject="attachment_id", description=str(refusal)
        )
        failure = error_details_pb2.PreconditionFailure(violations=[erased])
        return _status(code_pb2.FAILED_PRECONDITION, str(refusal), failure)
    if isinstance(refusal, AttachmentDamaged):
        return _status(code_pb2.DATA_LOSS, f"the attachment cannot be trusted: {refusal}")
    if isinstance(refusal, Unauthenticated):
        return _status(code_pb2.UNAUTHENTICATED, str(refusal))
    if isinstance(refusal, KeyServiceUnavailable):
        return _status(code_pb2.UNAVAILABLE, str(refusal))
    return _status(code_pb2.INTERNAL, "internal error")


def _case_service_status(refusal: CaseServiceError) -> grpc.Status:
    code = refusal.code
    if code in _PASSED_ON:
        assert isinstance(code, grpc.StatusCode)
        details = [
            (key, value) for key, value in (refusal.trailing or ()) if key == STATUS_DETAILS_KEY
        ]
        return _Status(code, str(refusal), tuple(details))
    if code in _TRANSIENT:
        return _status(code_pb2.UNAVAILABLE, "the case service is unavailable; retry")
    return _status(code_pb2.INTERNAL, "the case service failed")


def _status(code: int, message: str, detail: Message | None = None) -> grpc.Status:
    details = []
    if detail is not None:
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=details))


class _Status(
    collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status
):
    """A status as the case service sent it: code, message and its details trailer unchanged."""
