"""The web layer's guards: the cookie's attributes, CSRF on every form, sign-in redirects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.ports import CaseChange, HistoryItem
from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.application.work import Work
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.sessions import Person, Session, SessionStore, Tokens
from casedesk_desk.web.app import COOKIE, Desk, build_app

from .fakes import FakeProvider, FakeVerifier


class RecordingCases:
    def __init__(self) -> None:
        self.commands: list[tuple[str, ...]] = []

    async def change_status(self, token: str, case_id: str, action: str, reason: str) -> None:
        self.commands.append((token, case_id, action))

    async def comment(self, token: str, case_id: str, body: str, public: bool) -> None:
        self.commands.append((token, case_id, "comment"))

    async def escalate(self, token: str, case_id: str, to_tier: str, reason: str) -> None:
        self.commands.append((token, case_id, "escalate", to_tier, reason))

    async def assign(self, token: str, case_id: str, specialist_id: str) -> None:
        self.commands.append((token, case_id, "assign", specialist_id))

    async def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        """A citizen's comment, a status change, then the case service refuses (ends the feed)."""
        self.commands.append((token, case_id, "watch", str(after_version)))
        at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        item = HistoryItem(at, "Гражданин", "Сообщение гражданина", "<b>код</b>", version=7)
        yield CaseChange(item)
        yield CaseChange(HistoryItem(at, "l1.ivanova", "Статус", version=8), status="IN_PROGRESS")
        raise Refused(RefusalKind.NOT_FOUND, "Обращение не найдено.")


def _desk(secure: bool) -> tuple[TestClient, SessionStore, RecordingCases]:
    store, cases = SessionStore(1800), RecordingCases()
    routes = SignInRoutes("http://desk/auth/callback", "http://desk/auth/signed-out")
    sign_in = SignIn(store, FakeProvider(), FakeVerifier(), FakeVerifier(), routes)  # type: ignore[arg-type]
    live = LiveCase(cases, sign_in, store, check_every_s=0.05)  # type: ignore[arg-type]
    desk = Desk(store, sign_in, Work(cases), cookie_secure=secure, live=live)  # type: ignore[arg-type]
    client = TestClient(build_app(desk), base_url="http://desk", follow_redirects=False)
    return client, store, cases


def _signed_in(store: SessionStore) -> Session:
    session = store.new()
    session.person = Person("l1.ivanova", "Иванова Анна", "L1", frozenset({"specialist"}))
    session.tokens = Tokens("access", 4_000_000_000.0, "refresh", "id")
    return session


@pytest.mark.parametrize("secure", [True, False])
def test_the_session_cookie_is_httponly_lax_and_secure_as_configured(secure: bool) -> None:
    client, *_ = _desk(secure)
    reply = client.get("/auth/login?next=/queue")
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("https://idp.example/auth?state=")
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ("secure" in cookie) is secure


def test_pages_without_a_session_send_to_sign_in_keeping_the_target() -> None:
    client, *_ = _desk(False)
    reply = client.get("/cases/c-1?reveal=1")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/auth/login?next=%2Fcases%2Fc-1%3Freveal%3D1"


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "guess"}])
def test_a_form_without_the_sessions_csrf_token_is_refused(form: dict[str, Any]) -> None:
    client, store, cases = _desk(False)
    session = _signed_in(store)
    client.cookies.set(COOKIE, session.session_id)
    reply = client.post("/cases/c-1/close", data=form)
    assert reply.status_code == 403
    assert "CSRF" in reply.text
    assert cases.commands == []


def test_a_form_with_the_token_acts_and_returns_to_the_case() -> None:
    client, store, cases = _desk(False)
    session = _signed_in(store)
    client.cookies.set(COOKIE, session.session_id)
    reply = client.post("/cases/c-1/take", data={"csrf_token": session.csrf_token})
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/cases/c-1?done=")
    assert cases.commands == [("access", "c-1", "TAKE_IN_WORK")]


def test_logout_needs_the_token_too_and_then_ends_the_session() -> None:
    client, store, _ = _desk(False)
    session = _signed_in(store)
    client.cookies.set(COOKIE, session.session_id)
    assert client.post("/auth/logout", data={}).status_code == 403
    assert store.get(session.session_id) is session
    reply = client.post("/auth/logout", data={"csrf_token": session.csrf_token})
    assert reply.status_code == 303
    assert reply.headers["location"] == "https://idp.example/logout?id_token_hint=id"
    assert store.get(session.session_id) is None


def test_the_event_stream_without_a_session_is_204_so_the_browser_stops_reconnecting() -> None:
    client, *_ = _desk(False)
    reply = client.get("/cases/c-1/live?after=3")
    assert reply.status_code == 204
    assert reply.headers["cache-control"] == "no-store"


def test_escalation_needs_a_tier_a_listed_reason_and_words() -> None:
    client, store, cases = _desk(False)
    session = _signed_in(store)
    client.cookies.set(COOKIE, session.session_id)
    base = {"csrf_token": session.csrf_token, "to_tier": "L2", "reason": "CRITICAL_ERROR"}
    for bad, message in [
        ({"to_tier": "L1"}, "Выберите линию"),
        ({"reason": "RESOLUTION_BREACH"}, "Выберите причину"),
        ({"text": "   "}, "Опишите причину"),
    ]:
        reply = client.post("/cases/c-1/escalate", data={**base, "text": "x", **bad})
        assert reply.status_code == 422, bad
        assert message in reply.text
    assert cases.commands == []
    reply = client.post("/cases/c-1/escalate", data={**base, "text": "Нужен доступ к базе"})
    assert reply.status_code == 303
    assert cases.commands == [
        ("access", "c-1", "comment"),
        ("access", "c-1", "escalate", "L2", "CRITICAL_ERROR"),
    ]


def test_reassign_passes_the_specialist_and_refuses_spaces() -> None:
    client, store, cases = _desk(False)
    session = _signed_in(store)
    client.cookies.set(COOKIE, session.session_id)
    form = {"csrf_token": session.csrf_token}
    assert (
        client.post("/cases/c-1/assign", data={**form, "specialist_id": "a b"}).status_code == 422
    )
    reply = client.post("/cases/c-1/assign", data={**form, "specialist_id": " l2-007 "})
    assert reply.status_code == 303
    assert cases.commands == [("access", "c-1", "assign", "l2-007")]


def test_the_event_stream_sends_each_change_escaped_with_its_version_then_the_end() -> None:
    client, store, cases = _desk(False)
    session = _signed_in(store)
    client.cookies.set(COOKIE, session.session_id)
    reply = client.get("/cases/c-1/live?after=3", headers={"Last-Event-ID": "6"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert cases.commands == [("access", "c-1", "watch", "6")]  # the later of the two
    events = [block for block in reply.text.split("\n\n") if block.startswith("id:")]
    assert [e.splitlines()[:2] for e in events] == [
        ["id: 7", "event: change"],
        ["id: 8", "event: change"],
    ]
    first = json.loads(events[0].splitlines()[2].removeprefix("data: "))
    assert "&lt;b&gt;код&lt;/b&gt;" in first["html"] and "<b>" not in first["html"]
    assert 'data-version="7"' in first["html"] and first["status"] is None
    second = json.loads(events[1].splitlines()[2].removeprefix("data: "))
    assert second["status"] == "В работе"
    assert reply.text.endswith("event: end\ndata: \n\n")
