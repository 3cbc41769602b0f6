"""Exactly-once replies for the frontends' mutating calls.

A call runs at most once per (frontend, idempotency key) as far as the frontend can tell: a retry
gets the stored reply, a different request under a used key is refused with ALREADY_EXISTS. The
case service gets a key derived from the frontend's, which covers the window between the case
service's commit and intake's record of the reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from casedesk_intake.adapters.store import IntakeStore, RecentCase, RequestMismatch
from casedesk_intake.errors import CaseServiceError, IdempotencyKeyReused, IntakeError
from casedesk_intake.frontends import Caller

R = TypeVar("R", bound=Message)
Work = Callable[[str], Awaitable[tuple[R, RecentCase | None]]]
# Refusals after which nothing happened; any other failure may have left a done command behind.
_DEFINITE_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.ABORTED,
    }
)


def derived_key(frontend: str, key: str) -> str:
    """The case service's idempotency key for this frontend call (stable across retries)."""
    return "intake-" + hashlib.sha256(f"{frontend}\x1f{key}".encode()).hexdigest()[:40]


def request_digest(rpc: str, citizen_login: str, request: Message) -> str:
    content = type(request)()
    content.CopyFrom(request)
    content.ClearField("idempotency_key")  # type: ignore[arg-type]
    digest = hashlib.sha256(f"{rpc}\x1f{citizen_login}\x1f".encode())
    digest.update(content.SerializeToString(deterministic=True))
    return digest.hexdigest()


class IdempotentCalls:
    def __init__(self, store: IntakeStore) -> None:
        self._store = store

    async def run(
        self, caller: Caller, rpc: str, request: Message, reply_type: type[R], work: Work[R]
    ) -> R:
        frontend, key = caller.frontend.name, request.idempotency_key  # type: ignore[attr-defined]
        digest = request_digest(rpc, caller.citizen_login, request)
        try:
            stored = await self._store.claim(frontend, key, digest)
        except RequestMismatch:
            raise IdempotencyKeyReused() from None
        if stored is not None:
            return reply_type.FromString(stored)
        try:
            reply, recent = await work(derived_key(frontend, key))
        except IntakeError as refusal:
            if _nothing_happened(refusal):
                await self._store.release(frontend, key)
            raise
        await self._store.complete(frontend, key, digest, reply.SerializeToString(), recent)
        return reply


def _nothing_happened(refusal: IntakeError) -> bool:
    if isinstance(refusal, CaseServiceError):
        return refusal.code in _DEFINITE_REFUSALS
    return True
