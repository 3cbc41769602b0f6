"""The web layer's guards: the cookie's attributes, CSRF on every form, sign-in redirects."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.application.work import Work
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


def _desk(secure: bool) -> tuple[TestClient, SessionStore, RecordingCases]:
    store, cases = SessionStore(1800), RecordingCases()
    routes = SignInRoutes("http://desk/auth/callback", "http://desk/auth/signed-out")
    sign_in = SignIn(store, FakeProvider(), FakeVerifier(), FakeVerifier(), routes)  # type: ignore[arg-type]
    desk = Desk(store, sign_in, Work(cases), cookie_secure=secure)  # type: ignore[arg-type]
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
