"""Stand-ins for the identity provider, the token verifiers and the case service (the real ones
are exercised by tests/integration/test_desk_browser.py against Keycloak and a case service)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from casedesk_desk.application.ports import (
    CaseChange,
    CaseDetails,
    CitizenCard,
    HistoryItem,
    QueueChange,
    QueuePage,
    QueueQuery,
    Timeline,
    TokenSet,
)
from casedesk_desk.domain.errors import RefusalKind, Refused, SignInFailed
from casedesk_desk.domain.overview import Overview
from casedesk_desk.domain.queue import NO_CLOCK, QueueRow
from casedesk_desk.domain.sessions import Person, Session, SessionStore, Tokens
from casedesk_runtime.oidc import Reason, TokenRejected, VerifiedToken


class FakeProvider:
    def __init__(self) -> None:
        self.authorizations: list[dict[str, str]] = []
        self.exchanges: list[dict[str, str]] = []
        self.refreshes: list[str] = []
        self.next_tokens = TokenSet("access-1", 300, "refresh-1", "id-1")
        self.refresh_fails = False

    async def authorization_url(self, **params: str) -> str:
        self.authorizations.append(params)
        return "https://idp.example/auth?state=" + params["state"]

    async def exchange_code(self, **params: str) -> TokenSet:
        self.exchanges.append(params)
        return self.next_tokens

    async def refresh(self, refresh_token: str) -> TokenSet:
        self.refreshes.append(refresh_token)
        if self.refresh_fails:
            raise SignInFailed("refresh token expired")
        return TokenSet("access-2", 300, "refresh-2", None)

    async def end_session_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str:
        return f"https://idp.example/logout?id_token_hint={id_token}"


class FakeVerifier:
    """Tokens are names of entries in `claims`; anything else is rejected."""

    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Any]] = {}

    def add(self, token: str, expires_at: float, **claims: Any) -> None:
        self.claims[token] = {"sub": "u-1", "preferred_username": "l1.ivanova", "exp": expires_at,
                              "tier": "L1", **claims}  # fmt: skip

    async def verify(self, token: str) -> VerifiedToken:
        if token not in self.claims:
            raise TokenRejected(Reason.BAD_SIGNATURE)
        claims = self.claims[token]
        return VerifiedToken(
            subject=claims["sub"],
            issuer="https://idp.example",
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            realm_roles=frozenset({"specialist"}),
            tier=claims["tier"],
            username=claims["preferred_username"],
            display_name="Иванова Анна",
            claims=MappingProxyType(claims),
        )


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def queue_row(number: str = "1", **fields: Any) -> QueueRow:
    """A registered L1 chat case, unassigned; any field replaced."""
    values: dict[str, Any] = {
        "case_id": f"c-{number}",
        "number": number,
        "subject": "Не приходит СМС-код",
        "status": "REGISTERED",
        "channel": "PORTAL_CHAT",
        "category": "REGISTRATION_SIGN_IN",
        "queue": "general",
        "tier": "L1",
        "assignee": "",
        "registered_at": T0,
        "updated_at": T0,
        "version": 1,
        "clock": NO_CLOCK,
    }
    return QueueRow(**{**values, **fields})


def case_details(case_id: str = "c-1", **fields: Any) -> CaseDetails:
    values: dict[str, Any] = {
        "case_id": case_id,
        "number": "2026-000001",
        "version": 3,
        "status": "IN_PROGRESS",
        "channel": "PORTAL_CHAT",
        "category": "REGISTRATION_SIGN_IN",
        "queue": "general",
        "tier": "L1",
        "priority": "NORMAL",
        "assignee": "l1.ivanova",
        "subject": "Не приходит СМС-код",
        "description": "Жду код уже час",
        "citizen": CitizenCard("Иванов Иван", "ivanov.ii", "", "", "+79161234567", ""),
        "registered_at": T0,
    }
    return CaseDetails(**{**values, **fields})


class FakeCases:
    """The case service as the desk sees it: records what it was asked, answers what the test
    put in. `refuse[rpc]` makes that call raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.pages: list[QueuePage] = []
        self.case = case_details()
        self.by_number: dict[str, CaseDetails] = {}  # find_case's answers
        self.history_items: list[HistoryItem] = []
        self.timeline_value = Timeline()
        self.overview_value: Overview | None = None
        self.refuse: dict[str, Refused] = {}
        self.queue_changes: list[QueueChange] = []
        self.queue_end: Refused | None = None  # None: the stream stays open after its changes

    def _maybe_refuse(self, rpc: str) -> None:
        if rpc in self.refuse:
            raise self.refuse[rpc]

    async def list_cases(self, token: str, query: QueueQuery) -> QueuePage:
        self.calls.append(("list_cases", token, query))
        self._maybe_refuse("list_cases")
        return self.pages.pop(0) if self.pages else QueuePage([], "")

    async def get_case(self, token: str, case_id: str, purpose: str) -> CaseDetails:
        self.calls.append(("get_case", token, case_id, purpose))
        self._maybe_refuse("get_case")
        return self.case

    async def find_case(self, token: str, number: str, purpose: str) -> CaseDetails:
        self.calls.append(("find_case", token, number, purpose))
        self._maybe_refuse("find_case")
        if number not in self.by_number:
            raise Refused(RefusalKind.NOT_FOUND, "Обращение не найдено.", f"no case {number}")
        return self.by_number[number]

    async def history(self, token: str, case_id: str, purpose: str) -> list[HistoryItem]:
        self.calls.append(("history", token, case_id, purpose))
        return self.history_items

    async def timeline(self, token: str, case_id: str, purpose: str) -> Timeline:
        self.calls.append(("timeline", token, case_id, purpose))
        self._maybe_refuse("timeline")
        return self.timeline_value

    async def overview(self, token: str, days: int) -> Overview:
        self.calls.append(("overview", token, days))
        self._maybe_refuse("overview")
        assert self.overview_value is not None
        return self.overview_value

    async def comment(self, token: str, case_id: str, body: str, public: bool) -> None:
        self.calls.append(("comment", token, case_id))

    async def change_status(self, token: str, case_id: str, action: str, reason: str) -> None:
        self.calls.append(("change_status", token, case_id, action))

    async def escalate(self, token: str, case_id: str, to_tier: str, reason: str) -> None:
        self.calls.append(("escalate", token, case_id, to_tier, reason))

    async def assign(self, token: str, case_id: str, specialist_id: str) -> None:
        self.calls.append(("assign", token, case_id, specialist_id))

    async def record_callback(self, token: str, case_id: str, reached: bool, note: str) -> None:
        self.calls.append(("record_callback", token, case_id, reached, note))
        self._maybe_refuse("record_callback")

    async def close_case(self, token: str, case_id: str, reason: str, explanation: str) -> None:
        self.calls.append(("close_case", token, case_id, reason, explanation))
        self._maybe_refuse("close_case")

    async def merge_cases(
        self, token: str, duplicate_case_id: str, target_case_id: str, reason: str
    ) -> None:
        self.calls.append(("merge_cases", token, duplicate_case_id, target_case_id, reason))
        self._maybe_refuse("merge_cases")

    async def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        self.calls.append(("watch", token, case_id, after_version))
        await asyncio.Event().wait()
        yield CaseChange(HistoryItem(T0, "", ""))  # never reached: the case stays quiet

    async def watch_queue(self, token: str, after_position: str) -> AsyncIterator[QueueChange]:
        self.calls.append(("watch_queue", token, after_position))
        for change in self.queue_changes:
            yield change
        if self.queue_end is not None:
            raise self.queue_end
        await asyncio.Event().wait()


def signed_in(store: SessionStore, tier: str | None = "L1", *roles: str) -> Session:
    session = store.new()
    session.person = Person("l1.ivanova", "Иванова Анна", tier, frozenset(roles or ("specialist",)))
    session.tokens = Tokens("access", 4_000_000_000.0, "refresh", "id")
    return session
