from __future__ import annotations

import pytest

from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.domain.errors import SignInFailed
from casedesk_desk.domain.security import pkce_challenge
from casedesk_desk.domain.sessions import SessionStore

from .fakes import FakeProvider, FakeVerifier, state_of

NOW = 1_000_000.0
ROUTES = SignInRoutes("http://desk/auth/callback", "http://desk/auth/signed-out")


class Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> tuple[SignIn, SessionStore, FakeProvider, FakeVerifier, FakeVerifier, Clock]:
    store, provider, ids, access, clock = (
        SessionStore(1800), FakeProvider(), FakeVerifier(), FakeVerifier(), Clock()
    )  # fmt: skip
    sign_in = SignIn(store, provider, ids, access, ROUTES, clock=clock)  # type: ignore[arg-type]
    return sign_in, store, provider, ids, access, clock


async def _started(world: tuple, return_to: str = "/queue") -> tuple:  # type: ignore[type-arg]
    sign_in, store, _, ids, access, _ = world
    session = store.new()
    url = await sign_in.begin(session, return_to)
    pending = session.pending
    ids.add("id-1", NOW + 300, nonce=pending.nonce)
    access.add("access-1", NOW + 300)
    return session, state_of(url)


async def test_begin_sends_pkce_s256_state_and_nonce(world: tuple) -> None:  # type: ignore[type-arg]
    session, state = await _started(world)
    sent = world[2].authorizations[0]
    assert sent["state"] == state == session.pending.state
    assert sent["nonce"] == session.pending.nonce
    assert sent["code_challenge"] == pkce_challenge(session.pending.code_verifier)
    assert sent["redirect_uri"] == ROUTES.callback_url


async def test_the_callback_signs_in_under_a_new_session_id(world: tuple) -> None:  # type: ignore[type-arg]
    sign_in, store, provider, *_ = world
    session, state = await _started(world, "/cases/c-1")
    verifier, old_id = session.pending.code_verifier, session.session_id
    assert await sign_in.complete(session, "code-1", state) == "/cases/c-1"
    assert provider.exchanges[0]["code_verifier"] == verifier
    assert session.signed_in and session.person.username == "l1.ivanova"
    assert session.person.tier == "L1"
    assert store.get(old_id) is None and store.get(session.session_id) is session


async def test_a_foreign_state_is_refused_and_spends_the_attempt(world: tuple) -> None:  # type: ignore[type-arg]
    sign_in, *_ = world
    session, state = await _started(world)
    with pytest.raises(SignInFailed, match="state"):
        await sign_in.complete(session, "code-1", "another-state")
    with pytest.raises(SignInFailed, match="state"):  # the real state is no good afterwards
        await sign_in.complete(session, "code-1", state)
    assert not session.signed_in


async def test_an_id_token_with_another_nonce_is_refused(world: tuple) -> None:  # type: ignore[type-arg]
    sign_in, _, _, ids, _, _ = world
    session, state = await _started(world)
    ids.add("id-1", NOW + 300, nonce="replayed-from-another-sign-in")
    with pytest.raises(SignInFailed, match="nonce"):
        await sign_in.complete(session, "code-1", state)
    assert not session.signed_in


async def test_an_unverifiable_access_token_is_refused(world: tuple) -> None:  # type: ignore[type-arg]
    sign_in, _, _, _, access, _ = world
    session, state = await _started(world)
    access.claims.clear()
    with pytest.raises(SignInFailed, match="token rejected"):
        await sign_in.complete(session, "code-1", state)


async def test_only_local_paths_are_returned_to(world: tuple) -> None:  # type: ignore[type-arg]
    sign_in, *_ = world
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        session, state = await _started(world, target)
        assert await sign_in.complete(session, "code-1", state) == "/queue"


async def test_the_token_is_refreshed_near_expiry_and_a_failed_refresh_ends_the_session(
    world: tuple,  # type: ignore[type-arg]
) -> None:
    sign_in, store, provider, _, access, clock = world
    session, state = await _started(world)
    await sign_in.complete(session, "code-1", state)
    assert await sign_in.access_token(session) == "access-1"
    access.add("access-2", NOW + 600)
    clock.now = NOW + 290  # 10 s left: inside the margin
    assert await sign_in.access_token(session) == "access-2"
    assert provider.refreshes == ["refresh-1"]
    assert session.tokens.refresh_token == "refresh-2" and session.tokens.id_token == "id-1"
    clock.now = NOW + 590
    provider.refresh_fails = True
    with pytest.raises(SignInFailed, match="refresh failed"):
        await sign_in.access_token(session)
    assert store.get(session.session_id) is None


async def test_sign_out_ends_the_session_and_names_the_id_token(world: tuple) -> None:  # type: ignore[type-arg]
    sign_in, store, *_ = world
    session, state = await _started(world)
    await sign_in.complete(session, "code-1", state)
    url = await sign_in.sign_out(session)
    assert url == "https://idp.example/logout?id_token_hint=id-1"
    assert store.get(session.session_id) is None
