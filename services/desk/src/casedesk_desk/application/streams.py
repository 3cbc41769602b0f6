"""Following one of the case service's streams (WatchCase, WatchQueue) for as long as a page is
open and the specialist's session lives.

The case service ends a stream when the person token expires; the follower then takes a fresh
token (refreshing it at the identity provider) and opens the stream again from the last position
it passed on, so the page misses nothing. The case service also ends a stream cleanly when it
has been quiet or open for long (WatchCase's idle time and lifetime): the follower opens it again
at once from the same position. When the case service is unavailable (restarting, or at its bound
of open streams) the follower opens the stream again after `retry_s`, from the same position. It
ends when the session ends (sign-out, idle expiry, a failed refresh: checked every
`check_every_s` without counting as activity, so an open tab does not keep an idle session alive),
when the case service refuses otherwise, when the stream breaks unexpectedly, or when the same
token is refused twice. Side items (presence changes of a case page) can be put into the
follower's inbox and come out between the stream's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from casedesk_desk.application.signin import SignIn
from casedesk_desk.domain.errors import RefusalKind, Refused, SignInFailed
from casedesk_desk.domain.sessions import SessionStore
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")  # what the stream yields
P = TypeVar("P")  # where it stands (a case version, a queue position)
S = TypeVar("S")  # side items

# After the case service was unavailable: a restart takes seconds, and an EventSource would have
# waited about as long before reconnecting.
RETRY_S = 5.0


@dataclass(frozen=True)
class _Item(Generic[T]):
    value: T


@dataclass(frozen=True)
class _Ended:
    refusal: Refused | None = None
    clean: bool = False  # the case service ended the stream with OK


class Follower:
    def __init__(
        self,
        sign_in: SignIn,
        sessions: SessionStore,
        check_every_s: float,
        retry_s: float = RETRY_S,
    ) -> None:
        if check_every_s <= 0 or retry_s <= 0:
            raise ValueError("the session check and retry intervals must be positive")
        self._sign_in, self._sessions = sign_in, sessions
        self.check_every_s, self._retry_s = check_every_s, retry_s

    async def follow(
        self,
        session_id: str,
        watch: Callable[[str, P], AsyncIterator[T]],
        start: P,
        advance: Callable[[P, T], P],
        side: asyncio.Queue[S] | None = None,
    ) -> AsyncGenerator[T | S | None, None]:
        """What `watch(token, position)` yields, and the side items; None every `check_every_s`
        without either while the session lives (a heartbeat)."""
        inbox: asyncio.Queue[_Item[T] | _Ended | S] = side or asyncio.Queue()  # type: ignore[assignment]
        position, refused_token = start, None
        loop = asyncio.get_running_loop()
        while True:
            session = self._sessions.peek(session_id)
            if session is None or session.person is None:
                return
            try:
                token = await self._sign_in.access_token(session)
            except SignInFailed:
                return
            opened_at = loop.time()
            pump = asyncio.create_task(_pump(watch(token, position), inbox))
            try:
                while True:
                    try:
                        got = await asyncio.wait_for(inbox.get(), self.check_every_s)
                    except TimeoutError:
                        if self._sessions.peek(session_id) is None:
                            return
                        yield None
                        continue
                    if isinstance(got, _Ended):
                        ended = got
                        break
                    if isinstance(got, _Item):
                        position = advance(position, got.value)
                        yield got.value
                    else:
                        yield got
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            refusal = ended.refusal
            if refusal is None and not ended.clean:
                return  # the stream broke in a way no reopening mends (logged by the pump)
            if refusal is None:
                # The case service ends a quiet or long-lived stream cleanly (its idle time and
                # lifetime): open it again from where the page stands. One that ends at once
                # again and again is not hammered: the next opening waits `retry_s`.
                if loop.time() - opened_at < self._retry_s:
                    await asyncio.sleep(self._retry_s)
                    yield None
                continue
            if refusal.kind is RefusalKind.UNAVAILABLE:
                await asyncio.sleep(self._retry_s)
                yield None
                continue
            # An expired token ends the stream: open it again with a fresh one, but not forever
            # with one the case service keeps refusing.
            if refusal.kind is not RefusalKind.SIGNED_OUT or token == refused_token:
                return
            refused_token = token


async def _pump(stream: AsyncIterator[T], into: asyncio.Queue[_Item[T] | _Ended | S]) -> None:
    try:
        async for value in stream:
            await into.put(_Item(value))
    except Refused as refusal:
        await into.put(_Ended(refusal))
    except Exception:
        # Whatever broke the stream, the page must hear that it ended rather than wait.
        log.exception("following a case service stream failed")
        await into.put(_Ended())
    else:
        await into.put(_Ended(clean=True))
