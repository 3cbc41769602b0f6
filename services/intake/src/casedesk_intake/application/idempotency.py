"""Exactly-once replies for the frontends' mutating calls.

A call runs at most once per (frontend, idempotency key) as far as the frontend can tell: a retry
gets the stored reply, a different request under a used key is refused with
IdempotencyKeyReused. The case service gets a key derived from the frontend's, which covers the
window between the case service's commit and intake's record of the reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from casedesk_intake.application.ports import IntakeStore, RecentCase, ReplyCodec, RequestMismatch
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.errors import CaseServiceError, IdempotencyKeyReused, IntakeError
from casedesk_intake.domain.requests import Request

R = TypeVar("R")
Work = Callable[[str], Awaitable[tuple[R, RecentCase | None]]]


def derived_key(frontend: str, key: str) -> str:
    """The case service's idempotency key for this frontend call (stable across retries)."""
    return "intake-" + hashlib.sha256(f"{frontend}\x1f{key}".encode()).hexdigest()[:40]


class IdempotentCalls:
    def __init__(self, store: IntakeStore) -> None:
        self._store = store

    async def run(
        self, caller: Caller, request: Request[Any], replies: ReplyCodec[R], work: Work[R]
    ) -> R:
        frontend, key, digest = caller.frontend.name, request.idempotency_key, request.digest
        try:
            stored = await self._store.claim(frontend, key, digest)
        except RequestMismatch:
            raise IdempotencyKeyReused() from None
        if stored is not None:
            return replies.decode(stored)
        try:
            reply, recent = await work(derived_key(frontend, key))
        except IntakeError as refusal:
            if _nothing_happened(refusal):
                await self._store.release(frontend, key)
            raise
        await self._store.complete(frontend, key, digest, replies.encode(reply), recent)
        return reply


def _nothing_happened(refusal: IntakeError) -> bool:
    """Refusals after which nothing happened; any other failure may have left a done command."""
    if isinstance(refusal, CaseServiceError):
        return refusal.nothing_done
    return True
