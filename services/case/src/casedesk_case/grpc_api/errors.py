"""Refusals of the case application -> gRPC status codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from casedesk_case.application.identity import (
    IdentityProviderUnavailable,
    PersonUnauthenticated,
)
from casedesk_case.application.personal_fields import (
    CitizenErased,
    PersonalDataUnavailable,
    PersonalDataUnreadable,
)
from casedesk_case.domain.errors import (
    AnswerMissing,
    CaseNotFound,
    IdempotencyKeyReused,
    InvalidCommand,
    NotPermitted,
    PreconditionFailed,
    VersionConflict,
)
from casedesk_case.grpc_api.checks import InvalidRequest
from casedesk_runtime.grpc_errors import bad_request_status

log = logging.getLogger(__name__)
R = TypeVar("R")


REFUSALS = (
    InvalidRequest,
    InvalidCommand,
    IdempotencyKeyReused,
    CaseNotFound,
    VersionConflict,
    PreconditionFailed,
    NotPermitted,
    PersonUnauthenticated,
    IdentityProviderUnavailable,
    PersonalDataUnavailable,
    PersonalDataUnreadable,
)


def refusal_status(error: Exception) -> grpc.Status | None:
    """The status a refused command ends with (details included); None for anything else."""
    if isinstance(error, InvalidRequest):
        return bad_request_status(error.violations)
    if isinstance(error, InvalidCommand):
        return bad_request_status([(error.field, error.description)])
    if isinstance(error, IdempotencyKeyReused):
        return bad_request_status([("context.idempotency_key", str(error))])
    if isinstance(error, CitizenErased):
        return erased_status(error)
    if isinstance(error, AnswerMissing):
        # Typed, so that a desk (or a script) can tell "reply first" from other refusals of the
        # status change: the usual cause is an escalation that came after the reply.
        return precondition_status(error, "ANSWER_MISSING", f"case/{error.case_id}")
    for kind, code in (
        (CaseNotFound, grpc.StatusCode.NOT_FOUND),
        (VersionConflict, grpc.StatusCode.ABORTED),
        (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
        (NotPermitted, grpc.StatusCode.PERMISSION_DENIED),
        (PersonUnauthenticated, grpc.StatusCode.UNAUTHENTICATED),
        (IdentityProviderUnavailable, grpc.StatusCode.UNAVAILABLE),
        (PersonalDataUnavailable, grpc.StatusCode.UNAVAILABLE),
        (PersonalDataUnreadable, grpc.StatusCode.DATA_LOSS),
    ):
        if isinstance(error, kind):
            return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=str(error)))
    return None


def erased_status(error: CitizenErased) -> grpc.Status:
    """FAILED_PRECONDITION with a PreconditionFailure violation of type ERASED (as the key
    service and intake's vault answer an erased key): the case's citizen was erased."""
    return precondition_status(error, "ERASED", f"case/{error.case_id}")


def precondition_status(error: Exception, kind: str, subject: str) -> grpc.Status:
    """FAILED_PRECONDITION with one PreconditionFailure violation of type `kind`."""
    violation = error_details_pb2.PreconditionFailure.Violation(
        type=kind, subject=subject, description=str(error)
    )
    detail = error_details_pb2.PreconditionFailure(violations=[violation])
    code = grpc.StatusCode.FAILED_PRECONDITION.value[0]
    status = status_pb2.Status(code=code, message=str(error))
    status.details.add().Pack(detail)
    return rpc_status.to_status(status)


async def abort_for(error: Exception, context: grpc.aio.ServicerContext) -> None:
    """Abort the call with the status that says what went wrong; re-raise anything unexpected."""
    status = refusal_status(error)
    if status is not None:
        await context.abort_with_status(status)
    raise error


def rpc(
    method: Callable[..., Awaitable[R]],
) -> Callable[..., Awaitable[R]]:
    """Map the application's refusals of a unary RPC to their status codes."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except REFUSALS as error:
            await abort_for(error, context)
            raise AssertionError("unreachable: abort raises") from error

    return handler
