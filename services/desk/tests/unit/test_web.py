"""The web layer's guards: the cookie's attributes, CSRF on every form, sign-in redirects, the case
page's event stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from casedesk_desk.application.ports import CaseChange, HistoryItem
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.web.app import COOKIE

from .apps import DeskUnderTest, desk_app
from .fakes import FakeCases, signed_in


class ScriptedCases(FakeCases):
    async def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        """A citizen's comment, a status change, then the case service refuses (ends the feed)."""
        self.calls.append(("watch", token, case_id, after_version))
        at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        item = HistoryItem(at, "Гражданин", "Сообщение гражданина", "<b>код</b>", version=7)
        yield CaseChange(item)
        yield CaseChange(HistoryItem(at, "l1.ivanova", "Статус", version=8), status="IN_PROGRESS")
        raise Refused(RefusalKind.NOT_FOUND, "Обращение не найдено.")


def _signed_in_desk(cases: FakeCases | None = None) -> tuple[DeskUnderTest, FakeCases, str]:
    cases = cases or FakeCases()
    under_test = desk_app(cases)
    session = signed_in(under_test.store)
    under_test.client.cookies.set(COOKIE, session.session_id)
    return under_test, cases, session.csrf_token


def _commands(cases: FakeCases) -> list[tuple[Any, ...]]:
    return [c for c in cases.calls if c[0] in ("comment", "change_status", "escalate", "assign")]


@pytest.mark.parametrize("secure", [True, False])
def test_the_session_cookie_is_httponly_lax_and_secure_as_configured(secure: bool) -> None:
    client = desk_app(FakeCases(), secure=secure).client
    reply = client.get("/auth/login?next=/queue")
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("https://idp.example/auth?state=")
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ("secure" in cookie) is secure


def test_pages_without_a_session_send_to_sign_in_keeping_the_target() -> None:
    client = desk_app(FakeCases()).client
    reply = client.get("/cases/c-1?reveal=1")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/auth/login?next=%2Fcases%2Fc-1%3Freveal%3D1"
    for path in ("/supervisor", "/cases/c-1/attachments/a-1"):
        assert client.get(path).headers["location"].startswith("/auth/login?next=")


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "guess"}])
def test_a_form_without_the_sessions_csrf_token_is_refused(form: dict[str, Any]) -> None:
    desk, cases, _ = _signed_in_desk()
    reply = desk.client.post("/cases/c-1/close", data=form)
    assert reply.status_code == 403
    assert "CSRF" in reply.text
    assert _commands(cases) == []


def test_a_form_with_the_token_acts_and_returns_to_the_case() -> None:
    desk, cases, csrf = _signed_in_desk()
    reply = desk.client.post("/cases/c-1/take", data={"csrf_token": csrf})
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/cases/c-1?done=")
    assert _commands(cases) == [("change_status", "access", "c-1", "TAKE_IN_WORK")]


def test_logout_needs_the_token_too_and_then_ends_the_session() -> None:
    desk, _, csrf = _signed_in_desk()
    session_id = desk.client.cookies[COOKIE]
    assert desk.client.post("/auth/logout", data={}).status_code == 403
    assert desk.store.get(session_id) is not None
    reply = desk.client.post("/auth/logout", data={"csrf_token": csrf})
    assert reply.status_code == 303
    assert reply.headers["location"] == "https://idp.example/logout?id_token_hint=id"
    assert desk.store.get(session_id) is None


@pytest.mark.parametrize("path", ["/cases/c-1/live?after=3", "/queue/live?view=tier"])
def test_an_event_stream_without_a_session_is_204_so_the_browser_stops_reconnecting(
    path: str,
) -> None:
    reply = desk_app(FakeCases()).client.get(path)
    assert reply.status_code == 204
    assert reply.headers["cache-control"] == "no-store"


def test_escalation_needs_a_tier_a_listed_reason_and_words_then_goes_back_to_the_queue() -> None:
    desk, cases, csrf = _signed_in_desk()
    base = {"csrf_token": csrf, "to_tier": "L2", "reason": "CRITICAL_ERROR"}
    for bad, message in [
        ({"to_tier": "L1"}, "Выберите линию"),
        ({"reason": "RESOLUTION_BREACH"}, "Выберите причину"),
        ({"text": "   "}, "Опишите причину"),
    ]:
        reply = desk.client.post("/cases/c-1/escalate", data={**base, "text": "x", **bad})
        assert reply.status_code == 422, bad
        assert message in reply.text
    assert _commands(cases) == []
    reply = desk.client.post("/cases/c-1/escalate", data={**base, "text": "Нужен доступ к базе"})
    assert reply.status_code == 303
    # The case is now above the specialist's tier, which he no longer opens.
    assert reply.headers["location"].startswith("/queue?done=")
    assert _commands(cases) == [
        ("comment", "access", "c-1"),
        ("escalate", "access", "c-1", "L2", "CRITICAL_ERROR"),
    ]


def test_reassign_passes_the_specialist_and_refuses_spaces() -> None:
    desk, cases, csrf = _signed_in_desk()
    form = {"csrf_token": csrf}
    reply = desk.client.post("/cases/c-1/assign", data={**form, "specialist_id": "a b"})
    assert reply.status_code == 422
    reply = desk.client.post("/cases/c-1/assign", data={**form, "specialist_id": " l2-007 "})
    assert reply.status_code == 303
    assert _commands(cases) == [("assign", "access", "c-1", "l2-007")]


def test_the_case_stream_sends_presence_each_change_escaped_with_its_version_then_the_end() -> None:
    desk, cases, _ = _signed_in_desk(ScriptedCases())
    reply = desk.client.get("/cases/c-1/live?after=3", headers={"Last-Event-ID": "6"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert [c for c in cases.calls if c[0] == "watch"] == [("watch", "access", "c-1", 6)]
    blocks = [b for b in reply.text.split("\n\n") if b.startswith(("id:", "event:"))]
    presence = blocks[0].splitlines()
    assert presence[0] == "event: presence"
    assert json.loads(presence[1].removeprefix("data: ")) == {
        "text": "Сейчас это обращение больше никто не открыл."
    }
    changes = [b for b in blocks if b.startswith("id:")]
    assert [e.splitlines()[:2] for e in changes] == [
        ["id: 7", "event: change"],
        ["id: 8", "event: change"],
    ]
    first = json.loads(changes[0].splitlines()[2].removeprefix("data: "))
    assert "&lt;b&gt;код&lt;/b&gt;" in first["html"] and "<b>" not in first["html"]
    assert 'data-version="7"' in first["html"] and first["status"] is None
    second = json.loads(changes[1].splitlines()[2].removeprefix("data: "))
    assert second["status"] == "В работе"
    assert reply.text.endswith("event: end\ndata: \n\n")
    assert desk.board.others("c-1", "somebody") == []  # the stream left when it ended
