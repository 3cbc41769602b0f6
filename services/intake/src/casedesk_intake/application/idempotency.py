"""Exactly-once replies for the frontends' mutating calls.

A call runs at most once per (frontend, idempotency key) as far as the frontend can tell: a retry
gets the stored reply, a different request under a used key is refused with
IdempotencyKeyReused. The case service gets a key derived from the frontend's, which covers the
window between the case service's commit and intake's record of the reply. A call that is one
case-service command and nothing else needs no record here: the case service's receipt answers
its retries (`run_on_receipt`; a new case without files).

With a RecordSealer (CASEDESK_SEAL_PERSONAL_DATA), the reply of a call that acted on a case's
citizen (`acting_on`, said by CaseAccess) is kept sealed with his data key, and the request's
digest as a keyed hash: the table holds none of his data in clear, and after his erasure a retry
answers CitizenErased. A reply that could not be sealed is not kept: a retry does the work again
(the case service recognises it by the derived key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from casedesk_intake.application.ports import (
    IntakeStore,
    RecentCase,
    RecordSealer,
    ReplyCodec,
    RequestMismatch,
)
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import CaseServiceError, IdempotencyKeyReused, IntakeError
from casedesk_intake.domain.requests import Request

R = TypeVar("R")
Work = Callable[[str], Awaitable[tuple[R, RecentCase | None]]]


def derived_key(frontend: str, key: str) -> str:
    """The case service's idempotency key for this frontend call (stable across retries)."""
    return "intake-" + hashlib.sha256(f"{frontend}\x1f{key}".encode()).hexdigest()[:40]


@dataclass
class _Owner:
    citizen: Citizen | None = None


_owner: ContextVar[_Owner | None] = ContextVar("intake_record_owner", default=None)


def acting_on(citizen: Citizen) -> None:
    """The call under way acts on this citizen's case: its reply holds his data, so its
    idempotency record is sealed with his key. Nothing outside an idempotent call."""
    owner = _owner.get()
    if owner is not None:
        owner.citizen = citizen


class IdempotentCalls:
    def __init__(self, store: IntakeStore, sealer: RecordSealer | None = None) -> None:
        self._store = store
        self._sealer = sealer

    async def run(
        self, caller: Caller, request: Request[Any], replies: ReplyCodec[R], work: Work[R]
    ) -> R:
        frontend, key, digest = caller.frontend.name, request.idempotency_key, request.digest
        if self._sealer is not None:
            digest = self._sealer.digest(digest)
        place = f"{frontend}\x1f{key}"
        try:
            stored = await self._store.claim(frontend, key, digest)
        except RequestMismatch:
            raise IdempotencyKeyReused() from None
        if stored is not None:
            if self._sealer is not None:
                stored = await self._sealer.open(place, stored)
            return replies.decode(stored)
        owner = _Owner()
        token = _owner.set(owner)
        try:
            reply, recent = await work(derived_key(frontend, key))
        except IntakeError as refusal:
            if _nothing_happened(refusal):
                await self._store.release(frontend, key)
            raise
        finally:
            _owner.reset(token)
        kept = replies.encode(reply)
        if self._sealer is not None and owner.citizen is not None:
            kept = await self._sealer.seal(owner.citizen, place, kept)
        await self._store.complete(frontend, key, digest, kept, recent)
        return reply

    async def run_on_receipt(self, caller: Caller, request: Request[Any], work: Work[R]) -> R:
        """A call whose one effect is one case-service command under the derived key: the
        case service's receipt of that command is the call's record. A retry gets the
        original case from it, another request under the key is refused there
        (IdempotencyKeyReused), and a refused call leaves no receipt, so its key stays free.
        Intake keeps no record of its own, which spares every such call a PostgreSQL
        statement before it runs and its reply's storage (sealed: its sealing) after; only
        the new case is kept for linking. Not for a call with effects of its own under the
        key (files kept in the vault): another request under a used key would reach them
        before the case service could refuse it."""
        reply, recent = await work(derived_key(caller.frontend.name, request.idempotency_key))
        if recent is not None:
            await self._store.remember(recent)
        return reply


def _nothing_happened(refusal: IntakeError) -> bool:
    """Refusals after which nothing happened; any other failure may have left a done command."""
    if isinstance(refusal, CaseServiceError):
        return refusal.nothing_done
    return True
