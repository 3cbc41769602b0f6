"""A case page's live feed: the case service's WatchCase stream for as long as the page is open
and the specialist's session lives.

The case service journals every WatchCase it starts and ends the stream when the person token
expires; the feed then takes a fresh token (refreshing it at the identity provider) and watches
again from the last version it passed on, so the page misses nothing. It ends when the session
ends (sign-out, idle expiry, a failed refresh), when the case service refuses, or when the same
token is refused twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from casedesk_desk.application.ports import CaseChange, Cases
from casedesk_desk.application.signin import SignIn
from casedesk_desk.application.work import PURPOSE_WORK
from casedesk_desk.domain.errors import RefusalKind, Refused, SignInFailed
from casedesk_desk.domain.sessions import SessionStore
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class _Ended:
    refusal: Refused | None = None


class LiveCase:
    def __init__(
        self, cases: Cases, sign_in: SignIn, sessions: SessionStore, check_every_s: float
    ) -> None:
        if check_every_s <= 0:
            raise ValueError("the session check interval must be positive")
        self._cases, self._sign_in, self._sessions = cases, sign_in, sessions
        self._check_every_s = check_every_s

    async def follow(
        self, session_id: str, case_id: str, after_version: int
    ) -> AsyncGenerator[CaseChange | None, None]:
        """The case's changes after `after_version`; None every `check_every_s` without one while
        the session lives (a heartbeat: the web layer keeps the connection warm with it)."""
        last, refused_token = after_version, None
        while True:
            session = self._sessions.peek(session_id)
            if session is None or session.person is None:
                return
            try:
                token = await self._sign_in.access_token(session)
            except SignInFailed:
                return
            changes: asyncio.Queue[CaseChange | _Ended] = asyncio.Queue()
            pump = asyncio.create_task(self._pump(token, case_id, last, changes))
            try:
                while True:
                    try:
                        got = await asyncio.wait_for(changes.get(), self._check_every_s)
                    except TimeoutError:
                        if self._sessions.peek(session_id) is None:
                            return
                        yield None
                        continue
                    if isinstance(got, _Ended):
                        break
                    last = max(last, got.item.version)
                    yield got
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            refusal = got.refusal
            # An expired token ends the stream: watch again with a fresh one, but not forever
            # with one the case service keeps refusing.
            if refusal is None or refusal.kind is not RefusalKind.SIGNED_OUT:
                return
            if token == refused_token:
                return
            refused_token = token

    async def _pump(
        self,
        token: str,
        case_id: str,
        after_version: int,
        into: asyncio.Queue[CaseChange | _Ended],
    ) -> None:
        try:
            async for change in self._cases.watch(token, case_id, after_version, PURPOSE_WORK):
                await into.put(change)
        except Refused as refusal:
            await into.put(_Ended(refusal))
        except Exception:
            # Whatever broke the stream, the page must hear that it ended rather than wait.
            log.exception("watching case %s failed", case_id)
            await into.put(_Ended())
        else:
            await into.put(_Ended())
