"""WatchMyCase: the citizen's own case now, then after every change he may see, for as long as the
frontend keeps the stream open (within domain/watching.py's bounds).

Built on the case service's WatchCase: an event it streams that changes what the citizen sees
(`citizen_sees`) is sent on as the case as it is then (GetCase, so with what the case service
knows besides its events: whether it is overdue), with the case's version; events up to that
version are then already in what was sent, so changes made in quick succession may come as one,
and nothing is missed or repeated. An internal note alone is never a change, and never shows.
The case service ends its streams cleanly when they are quiet or old (its
CASEDESK_WATCH_CASE_IDLE_S and _MAX_S): the watch opens it again from the last event seen, at once,
or after `reopen_pause_s` when it ended right after opening (a case service ending every stream
at once is not hammered). Its refusals end the citizen's stream with its status (UNAVAILABLE,
RESOURCE_EXHAUSTED at its limit of streams: the frontend watches again after its last version).

Whose case it is, is checked when the stream opens (CaseAccess, as GetCase): an operator's reads
carry his token, so the case service journals his watch and every version read as his. A one-time
code is checked again before each change is sent (a code replaced or expired ends the stream as a
wrong code does); a citizen's or operator's token ends it when it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from casedesk_intake.application.follow_ups import CaseAccess
from casedesk_intake.application.ports import CaseService
from casedesk_intake.domain.acting import (
    CITIZEN_TOKEN_KEY,
    PERSON_TOKEN_KEY,
    Caller,
    Operator,
    PortalCitizen,
)
from casedesk_intake.domain.cases import CaseEventSeen
from casedesk_intake.domain.errors import InvalidRequest, Unauthenticated
from casedesk_intake.domain.replies import CitizenCase, CitizenCaseChange
from casedesk_intake.domain.requests import WatchRequest
from casedesk_intake.domain.watching import StreamLifetime, WatchLimits

REOPEN_PAUSE_S = 1.0


@dataclass(frozen=True)
class _Ended:
    """The case service's stream ended: cleanly (None), or with this failure."""

    failure: Exception | None = None


class CaseWatching:
    def __init__(
        self,
        cases: CaseService,
        access: CaseAccess,
        limits: WatchLimits,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reopen_pause_s: float = REOPEN_PAUSE_S,
    ) -> None:
        self._cases = cases
        self._access = access
        self._limits = limits
        self._clock = clock
        self._wall_clock = wall_clock
        self._reopen_pause_s = reopen_pause_s

    async def watch(
        self, caller: Caller, request: WatchRequest
    ) -> AsyncGenerator[CitizenCaseChange, None]:
        number = request.case_number
        case = await self._access.open(caller, number)
        if request.after_version > case.version:
            raise InvalidRequest(
                [("after_version", f"is ahead of the case, whose version is {case.version}: "
                                   "send the last version received, or 0")]
            )  # fmt: skip
        token = caller.acting.token if isinstance(caller.acting, Operator) else ""
        lifetime = StreamLifetime(self._limits, self._clock(), self._proof_ends(caller))
        position = sent = request.after_version  # the last event seen, the last version sent
        if position == 0:
            yield CitizenCaseChange(CitizenCase.of(case), case.version)
            position = sent = case.version
        while True:
            opened_at = self._clock()
            inbox: asyncio.Queue[CaseEventSeen | _Ended] = asyncio.Queue()
            events = self._cases.watch_case(case.case_id, position, token)
            pump = asyncio.create_task(_pump(events, inbox))
            try:
                while True:
                    try:
                        got = await asyncio.wait_for(
                            inbox.get(), lifetime.seconds_left(self._clock())
                        )
                    except TimeoutError:
                        if lifetime.proof_expired(self._clock()):
                            raise Unauthenticated(
                                f"{_proof_key(caller)} expired: watch again with a fresh one, "
                                f"after version {position}"
                            ) from None
                        return  # quiet or old: ends cleanly, the frontend watches again
                    if isinstance(got, _Ended):
                        ended = got
                        break
                    position = got.version
                    if got.citizen_sees and got.version > sent:
                        await self._access.prove(caller, number)
                        view = await self._cases.read_case(case.case_id, token)
                        sent = view.version
                        yield CitizenCaseChange(CitizenCase.of(view), view.version)
                        lifetime.sent(self._clock())
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            if ended.failure is not None:
                raise ended.failure
            if self._clock() - opened_at < self._reopen_pause_s:
                pause = min(self._reopen_pause_s, lifetime.seconds_left(self._clock()))
                await asyncio.sleep(pause)

    def _proof_ends(self, caller: Caller) -> float | None:
        """When the caller's proof expires, on the monotonic clock."""
        expires_at = caller.proof_expires_at
        if expires_at is None:
            return None
        return self._clock() + (expires_at - self._wall_clock()).total_seconds()


def _proof_key(caller: Caller) -> str:
    if isinstance(caller.acting, PortalCitizen):
        return CITIZEN_TOKEN_KEY
    return PERSON_TOKEN_KEY


async def _pump(
    events: AsyncIterator[CaseEventSeen], into: asyncio.Queue[CaseEventSeen | _Ended]
) -> None:
    try:
        async for event in events:
            await into.put(event)
    except Exception as failure:  # the watch must hear that the stream ended, whatever ended it
        await into.put(_Ended(failure))
    else:
        await into.put(_Ended())
