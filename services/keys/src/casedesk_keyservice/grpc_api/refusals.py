"""Refusals -> gRPC statuses. An erased subject is FAILED_PRECONDITION with two details: a
google.rpc.PreconditionFailure of type ERASED (as intake's vault answers an erased file), and
the `Erasure` (subject, generation, erased_at) a client's cache remembers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import (
    InvalidIdentifier,
    KeyErased,
    KeyNotFound,
    KeysError,
    KeyUnavailable,
    WrappedKeyDamaged,
)
from casedesk_keyservice.application import IdentityProviderUnavailable, PersonUnauthenticated
from casedesk_keyservice.domain import InvalidOrder, NotPermitted, PositionAhead, WatchClosed
from casedesk_keyservice.wire.erasures import erased_detail
from casedesk_runtime.grpc_errors import bad_request_status

log = logging.getLogger(__name__)
R = TypeVar("R")
ERASED = "ERASED"
REFUSALS = (
    KeysError,
    InvalidOrder,
    NotPermitted,
    PositionAhead,
    WatchClosed,
    PersonUnauthenticated,
    IdentityProviderUnavailable,
)


def refusal_status(error: Exception) -> grpc.Status:
    if isinstance(error, InvalidOrder):
        return bad_request_status([(error.field, error.problem)])
    if isinstance(error, PositionAhead):
        return bad_request_status([("after_position", str(error))])
    if isinstance(error, InvalidIdentifier):  # named by the order's field before; a safety net
        return bad_request_status([("identifiers", str(error))])
    if isinstance(error, KeyErased):
        violation = error_details_pb2.PreconditionFailure.Violation(
            type=ERASED, subject="subject", description=str(error)
        )
        failure = error_details_pb2.PreconditionFailure(violations=[violation])
        return _status(
            code_pb2.FAILED_PRECONDITION, str(error), failure, erased_detail(error.tombstone)
        )
    for kind, code in (
        (KeyNotFound, code_pb2.NOT_FOUND),
        (WrappedKeyDamaged, code_pb2.DATA_LOSS),
        (KeyUnavailable, code_pb2.UNAVAILABLE),
        (WatchClosed, code_pb2.UNAVAILABLE),
        (NotPermitted, code_pb2.PERMISSION_DENIED),
        (PersonUnauthenticated, code_pb2.UNAUTHENTICATED),
        (IdentityProviderUnavailable, code_pb2.UNAVAILABLE),
    ):
        if isinstance(error, kind):
            return _status(code, str(error))
    # Another KeysError (a malformed field: not this service's): a bug, said as such.
    log.error("unexpected key error: %s", error)
    return _status(code_pb2.INTERNAL, "the key service failed: see its log")


def refusal_message(error: KeysError) -> pb.KeyRefusal:
    """One subject's refusal inside GetCurrentKeys' reply: the status GetCurrentKey would have
    ended with, and an erased subject's erasure."""
    status = refusal_status(error)
    erased = erased_detail(error.tombstone) if isinstance(error, KeyErased) else None
    return pb.KeyRefusal(code=status.code.value[0], message=status.details, erased=erased)


def _status(code: int, message: str, *details: Message) -> grpc.Status:
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))


async def abort_for(error: Exception, context: grpc.aio.ServicerContext) -> None:
    await context.abort_with_status(refusal_status(error))


def refusing(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """A unary RPC whose refusals end the call with their status."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except REFUSALS as error:
            await abort_for(error, context)
            raise AssertionError("unreachable: abort raises") from error

    return handler
