"""The live feeds: changes passed on, a fresh token after the case service ends the stream at
expiry, a retry when it is unavailable, the end when the session ends or the case service
refuses; presence on a case page's feed; the queue's rows judged against the page's filters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.live_queue import LiveQueue, RowUpdate
from casedesk_desk.application.ports import CaseChange, HistoryItem, QueueChange
from casedesk_desk.application.presence import PresenceBoard, Viewers
from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.application.streams import Follower
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.presence import Presence, Viewer
from casedesk_desk.domain.queue import QueueView
from casedesk_desk.domain.queue_filter import QueueFilter
from casedesk_desk.domain.sessions import Person, Session, SessionStore, Tokens

from .fakes import FakeCases, FakeProvider, FakeVerifier, queue_row

FAR = 4_000_000_000.0
ENDS = "the case service ends the stream with OK"
EXPIRED = Refused(RefusalKind.SIGNED_OUT, "Сеанс истёк")
IVANOVA = Viewer("l1.ivanova", "Иванова Анна", "L1")
PETROV = Viewer("l2.petrov", "Петров Пётр", "L2")


def _change(version: int) -> CaseChange:
    return CaseChange(
        HistoryItem(datetime(2026, 1, 1, tzinfo=UTC), "Гражданин", "x", version=version)
    )


class WatchingCases(FakeCases):
    """Each watch plays its script: versions to yield, then a Refused, the case service's clean
    end (ENDS) or an open end (blocks)."""

    def __init__(self, scripts: list[tuple[list[int], Refused | str | None]]) -> None:
        super().__init__()
        self.scripts = scripts
        self.watches: list[tuple[str, int]] = []

    async def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        self.watches.append((token, after_version))
        versions, refusal = self.scripts.pop(0) if self.scripts else ([], None)
        for version in versions:
            yield _change(version)
        if refusal == ENDS:
            return
        if isinstance(refusal, Refused):
            raise refusal
        await asyncio.Event().wait()


class Wiring:
    def __init__(self, cases: FakeCases) -> None:
        self.store, self.provider, verifier = SessionStore(1800), FakeProvider(), FakeVerifier()
        verifier.add("access-2", FAR)
        routes = SignInRoutes("http://desk/auth/callback", "http://desk/auth/signed-out")
        sign_in = SignIn(self.store, self.provider, verifier, verifier, routes)  # type: ignore[arg-type]
        follower = Follower(sign_in, self.store, check_every_s=0.02, retry_s=0.01)
        self.board = PresenceBoard(Presence(ttl_s=60))
        self.case = LiveCase(cases, follower, self.board)
        self.queue = LiveQueue(cases, follower)

    def session(self, username: str = "l1.ivanova", tier: str | None = "L1") -> Session:
        session = self.store.new()
        session.person = Person(username, username, tier, frozenset({"specialist"}))
        session.tokens = Tokens("access-1", FAR, "refresh-1", "id")
        return session


async def _versions(feed: AsyncIterator[Any], changes: int) -> list[int]:
    got: list[int] = []
    async for change in feed:
        if isinstance(change, CaseChange):
            got.append(change.item.version)
            if len(got) == changes:
                break
    return got


async def test_changes_pass_on_and_an_expired_token_is_refreshed_and_watched_again() -> None:
    cases = WatchingCases([([4, 5], EXPIRED), ([6], None)])
    wiring = Wiring(cases)
    session = wiring.session()
    feed = wiring.case.follow(session.session_id, IVANOVA, "c-1", 3)
    assert await asyncio.wait_for(_versions(feed, 2), 2) == [4, 5]
    # The expired token: the desk's own clock says it is done, so the next watch refreshes it.
    session.tokens = Tokens("access-1", 0.0, "refresh-1", "id")
    assert await asyncio.wait_for(_versions(feed, 1), 2) == [6]
    assert cases.watches == [("access-1", 3), ("access-2", 5)]
    await feed.aclose()


async def test_an_unavailable_case_service_is_watched_again_from_the_last_version() -> None:
    unavailable = Refused(RefusalKind.UNAVAILABLE, "недоступна")
    cases = WatchingCases([([4], unavailable), ([], unavailable), ([5], None)])
    wiring = Wiring(cases)
    feed = wiring.case.follow(wiring.session().session_id, IVANOVA, "c-1", 3)
    assert await asyncio.wait_for(_versions(feed, 2), 2) == [4, 5]
    assert cases.watches == [("access-1", 3), ("access-1", 4), ("access-1", 4)]
    await feed.aclose()


async def test_a_stream_the_case_service_ends_cleanly_is_watched_again_from_the_last_version() -> (
    None
):
    # WatchCase ends a quiet or old stream with OK; the page must not go deaf.
    cases = WatchingCases([([4], ENDS), ([5], ENDS), ([6], None)])
    wiring = Wiring(cases)
    feed = wiring.case.follow(wiring.session().session_id, IVANOVA, "c-1", 3)
    assert await asyncio.wait_for(_versions(feed, 3), 2) == [4, 5, 6]
    assert cases.watches == [("access-1", 3), ("access-1", 4), ("access-1", 5)]
    await feed.aclose()


async def test_the_feed_ends_when_the_session_ends_even_while_the_case_is_quiet() -> None:
    wiring = Wiring(WatchingCases([]))
    session = wiring.session()
    feed = wiring.case.follow(session.session_id, IVANOVA, "c-1", 0)
    assert isinstance(await asyncio.wait_for(anext(feed), 1), Viewers)
    assert await asyncio.wait_for(anext(feed), 1) is None  # a heartbeat while it lives
    wiring.store.end(session.session_id)
    with pytest.raises(StopAsyncIteration):
        while True:
            await asyncio.wait_for(anext(feed), 1)
    assert wiring.board.others("c-1", "anybody") == []


@pytest.mark.parametrize("kind", [RefusalKind.NOT_FOUND, RefusalKind.FORBIDDEN])
async def test_a_refusal_ends_the_feed_without_watching_again(kind: RefusalKind) -> None:
    cases = WatchingCases([([], Refused(kind, "нет"))])
    wiring = Wiring(cases)
    feed = wiring.case.follow(wiring.session().session_id, IVANOVA, "c-1", 0)
    assert await asyncio.wait_for(_versions(feed, 1), 1) == []
    assert len(cases.watches) == 1


async def test_the_same_token_refused_twice_ends_the_feed() -> None:
    cases = WatchingCases([([], EXPIRED), ([], EXPIRED)])
    wiring = Wiring(cases)
    feed = wiring.case.follow(wiring.session().session_id, IVANOVA, "c-1", 0)
    assert await asyncio.wait_for(_versions(feed, 1), 1) == []
    assert cases.watches == [("access-1", 0), ("access-1", 0)]


async def _viewers(feed: AsyncIterator[Any]) -> list[str]:
    while True:
        got = await asyncio.wait_for(anext(feed), 1)
        if isinstance(got, Viewers):
            return [viewer.display_name for viewer in got.others]


async def test_each_case_page_hears_who_else_opens_and_leaves_the_case() -> None:
    wiring = Wiring(WatchingCases([]))
    ivanova = wiring.case.follow(wiring.session().session_id, IVANOVA, "c-1", 0)
    assert await _viewers(ivanova) == []
    petrov_session = wiring.session("l2.petrov", "L2")
    petrov = wiring.case.follow(petrov_session.session_id, PETROV, "c-1", 0)
    assert await _viewers(petrov) == ["Иванова Анна"]
    assert await _viewers(ivanova) == ["Петров Пётр"]
    elsewhere = wiring.case.follow(petrov_session.session_id, PETROV, "c-2", 0)
    assert await _viewers(elsewhere) == []  # another case's page
    await petrov.aclose()  # the tab closed: its stream ends
    assert await _viewers(ivanova) == []
    await ivanova.aclose()
    await elsewhere.aclose()


def _queue_change(position: str, **fields: Any) -> QueueChange:
    return QueueChange(position, queue_row("7", **fields), "StatusChanged")


async def _updates(feed: AsyncIterator[RowUpdate | None], count: int) -> list[RowUpdate]:
    got: list[RowUpdate] = []
    async for update in feed:
        if update is not None:
            got.append(update)
            if len(got) == count:
                break
    return got


async def test_the_live_queue_says_whether_each_changed_case_belongs_on_the_page() -> None:
    cases = FakeCases()
    cases.queue_changes = [
        _queue_change("10"),  # a new L1 case nobody holds: on the L1 tier page
        _queue_change("11", tier="L2"),  # escalated: off it
        _queue_change("12", status="CLOSED"),  # not open: off it
        _queue_change("13", channel="EMAIL"),  # the page shows chat cases only
    ]
    cases.queue_end = EXPIRED
    wiring = Wiring(cases)
    session = wiring.session()
    page = QueueFilter(QueueView.TIER, channel="PORTAL_CHAT")
    feed = wiring.queue.follow(session.session_id, session.person, page, "9")  # type: ignore[arg-type]
    updates = await asyncio.wait_for(_updates(feed, 4), 2)
    assert [(u.position, u.belongs) for u in updates] == [
        ("10", True),
        ("11", False),
        ("12", False),
        ("13", False),
    ]
    # The token expired: the queue is watched again, with a fresh one, after the last position.
    session.tokens = Tokens("access-1", 0.0, "refresh-1", "id")
    cases.queue_changes, cases.queue_end = [], None
    await asyncio.wait_for(anext(feed), 1)
    await feed.aclose()
    assert [c for c in cases.calls if c[0] == "watch_queue"] == [
        ("watch_queue", "access-1", "9"),
        ("watch_queue", "access-2", "13"),
    ]
