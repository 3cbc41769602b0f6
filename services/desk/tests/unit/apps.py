"""The desk's web app wired to fakes, as the composition root wires it to the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from casedesk_desk.application.attachments import Attachments
from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.live_queue import LiveQueue
from casedesk_desk.application.presence import PresenceBoard
from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.application.streams import Follower
from casedesk_desk.application.work import Work
from casedesk_desk.domain.presence import Presence
from casedesk_desk.domain.sessions import SessionStore
from casedesk_desk.web.app import Desk, Live
from casedesk_desk.web.routes import build_app

from .fakes import FakeProvider, FakeVerifier


@dataclass
class DeskUnderTest:
    client: TestClient
    store: SessionStore
    desk: Desk
    board: PresenceBoard


def desk_app(
    cases: Any,
    vault: Any = None,
    *,
    secure: bool = False,
    verifiers: tuple[FakeVerifier, FakeVerifier] | None = None,
) -> DeskUnderTest:
    """`verifiers`: the ID tokens' and the access tokens' (a test that signs in through the
    callback gives them its tokens); unset: two that know none."""
    store = SessionStore(1800)
    routes = SignInRoutes("http://desk/auth/callback", "http://desk/auth/signed-out")
    ids, access = verifiers or (FakeVerifier(), FakeVerifier())
    sign_in = SignIn(store, FakeProvider(), ids, access, routes)  # type: ignore[arg-type]
    follower = Follower(sign_in, store, check_every_s=0.05, retry_s=0.05)
    board = PresenceBoard(Presence(ttl_s=60))
    live = Live(LiveCase(cases, follower, board), LiveQueue(cases, follower), board)
    desk = Desk(
        store, sign_in, Work(cases), cookie_secure=secure, live=live, attachments=Attachments(vault)
    )
    client = TestClient(build_app(desk), base_url="http://desk", follow_redirects=False)
    return DeskUnderTest(client, store, desk, board)
