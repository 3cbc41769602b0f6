"""The case page's live feed: changes passed on, a fresh token after the case service ends the
stream at expiry, the end when the session ends or the case service refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.ports import CaseChange, HistoryItem
from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.sessions import Person, Session, SessionStore, Tokens

from .fakes import FakeProvider, FakeVerifier

FAR = 4_000_000_000.0


def _change(version: int) -> CaseChange:
    return CaseChange(
        HistoryItem(datetime(2026, 1, 1, tzinfo=UTC), "Гражданин", "x", version=version)
    )


class WatchingCases:
    """Each watch plays its script: versions to yield, then a Refused or an open end (blocks)."""

    def __init__(self, scripts: list[tuple[list[int], Refused | None]]) -> None:
        self.scripts = scripts
        self.watches: list[tuple[str, int]] = []

    async def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        self.watches.append((token, after_version))
        versions, refusal = self.scripts.pop(0) if self.scripts else ([], None)
        for version in versions:
            yield _change(version)
        if refusal is not None:
            raise refusal
        await asyncio.Event().wait()


def _live(cases: WatchingCases) -> tuple[LiveCase, SessionStore, Session, FakeProvider]:
    store, provider, verifier = SessionStore(1800), FakeProvider(), FakeVerifier()
    verifier.add("access-2", FAR)
    routes = SignInRoutes("http://desk/auth/callback", "http://desk/auth/signed-out")
    sign_in = SignIn(store, provider, verifier, verifier, routes)  # type: ignore[arg-type]
    session = store.new()
    session.person = Person("l1.ivanova", "Иванова Анна", "L1", frozenset({"specialist"}))
    session.tokens = Tokens("access-1", FAR, "refresh-1", "id")
    return LiveCase(cases, sign_in, store, check_every_s=0.02), store, session, provider  # type: ignore[arg-type]


async def _collect(feed: AsyncIterator[CaseChange | None], changes: int) -> list[int]:
    got: list[int] = []
    async for change in feed:
        if change is not None:
            got.append(change.item.version)
            if len(got) == changes:
                break
    return got


async def test_changes_pass_on_and_an_expired_token_is_refreshed_and_watched_again() -> None:
    expired = Refused(RefusalKind.SIGNED_OUT, "Сеанс истёк")
    cases = WatchingCases([([4, 5], expired), ([6], None)])
    live, _, session, _ = _live(cases)
    # The expired token: the desk's own clock says it is done, so the next watch refreshes it.
    feed = live.follow(session.session_id, "c-1", 3)
    got = await asyncio.wait_for(_collect(feed, 2), 2)
    assert got == [4, 5]
    session.tokens = Tokens("access-1", 0.0, "refresh-1", "id")
    got = await asyncio.wait_for(_collect(feed, 1), 2)
    assert got == [6]
    assert cases.watches == [("access-1", 3), ("access-2", 5)]
    await feed.aclose()


async def test_the_feed_ends_when_the_session_ends_even_while_the_case_is_quiet() -> None:
    live, store, session, _ = _live(WatchingCases([]))
    feed = live.follow(session.session_id, "c-1", 0)
    assert await asyncio.wait_for(anext(feed), 1) is None  # a heartbeat while it lives
    store.end(session.session_id)
    with pytest.raises(StopAsyncIteration):
        while True:
            await asyncio.wait_for(anext(feed), 1)


@pytest.mark.parametrize("kind", [RefusalKind.NOT_FOUND, RefusalKind.FORBIDDEN])
async def test_a_refusal_ends_the_feed_without_watching_again(kind: RefusalKind) -> None:
    cases = WatchingCases([([], Refused(kind, "нет"))])
    live, _, session, _ = _live(cases)
    assert await asyncio.wait_for(_collect(live.follow(session.session_id, "c-1", 0), 1), 1) == []
    assert len(cases.watches) == 1


async def test_the_same_token_refused_twice_ends_the_feed() -> None:
    expired = Refused(RefusalKind.SIGNED_OUT, "Сеанс истёк")
    cases = WatchingCases([([], expired), ([], expired)])
    live, _, session, _ = _live(cases)
    assert await asyncio.wait_for(_collect(live.follow(session.session_id, "c-1", 0), 1), 1) == []
    assert cases.watches == [("access-1", 0), ("access-1", 0)]
