"""Refusals of the case application -> gRPC status codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from casedesk_case.domain.errors import (
    CaseNotFound,
    IdempotencyKeyReused,
    InvalidCommand,
    PreconditionFailed,
    VersionConflict,
)
from casedesk_case.grpc_api.checks import InvalidRequest
from casedesk_runtime.grpc_errors import bad_request_status

log = logging.getLogger(__name__)
R = TypeVar("R")


async def abort_for(error: Exception, context: grpc.aio.ServicerContext) -> None:
    """Abort the call with the status that says what went wrong; re-raise anything unexpected."""
    if isinstance(error, InvalidRequest):
        await context.abort_with_status(bad_request_status(error.violations))
    if isinstance(error, InvalidCommand):
        await context.abort_with_status(bad_request_status([(error.field, error.description)]))
    if isinstance(error, IdempotencyKeyReused):
        await context.abort_with_status(
            bad_request_status([("context.idempotency_key", str(error))])
        )
    if isinstance(error, CaseNotFound):
        await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
    if isinstance(error, VersionConflict):
        await context.abort(grpc.StatusCode.ABORTED, str(error))
    if isinstance(error, PreconditionFailed):
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
    raise error


def rpc(
    method: Callable[..., Awaitable[R]],
) -> Callable[..., Awaitable[R]]:
    """Map the application's refusals of a unary RPC to their status codes."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except (InvalidRequest, InvalidCommand, IdempotencyKeyReused, CaseNotFound,
                VersionConflict, PreconditionFailed) as error:  # fmt: skip
            await abort_for(error, context)
            raise AssertionError("unreachable: abort raises") from error

    return handler
