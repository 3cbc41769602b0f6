"""Signing in with OpenID Connect (authorization code + PKCE S256, state and nonce checked),
keeping the access token fresh, and signing out of the identity provider too."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from casedesk_desk.application.ports import IdentityProvider, TokenSet
from casedesk_desk.domain.errors import SignInFailed
from casedesk_desk.domain.security import new_secret, pkce_challenge, same_secret
from casedesk_desk.domain.sessions import (
    PendingSignIn,
    Person,
    Session,
    SessionStore,
    Tokens,
)
from casedesk_runtime.oidc import TokenRejected, TokenVerifier

# A token this close to its expiry is refreshed before a call: the call itself, and the case
# service's clock, must still find it valid.
REFRESH_MARGIN_S = 30.0


@dataclass(frozen=True)
class SignInRoutes:
    callback_url: str  # where the identity provider sends the browser back
    signed_out_url: str  # where it sends the browser after ending its session


class SignIn:
    def __init__(
        self,
        sessions: SessionStore,
        provider: IdentityProvider,
        id_tokens: TokenVerifier,  # audience: the desk's client id
        access_tokens: TokenVerifier,  # audience: the case service
        routes: SignInRoutes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions, self._provider = sessions, provider
        self._id_tokens, self._access_tokens = id_tokens, access_tokens
        self._routes, self._clock = routes, clock

    async def begin(self, session: Session, return_to: str) -> str:
        """Remember a fresh state, nonce and PKCE verifier; the provider's URL to send to."""
        pending = PendingSignIn(
            state=new_secret(),
            nonce=new_secret(),
            code_verifier=new_secret(),
            return_to=return_to if _local_path(return_to) else "/queue",
        )
        session.pending = pending
        return await self._provider.authorization_url(
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=pkce_challenge(pending.code_verifier),
            redirect_uri=self._routes.callback_url,
        )

    async def complete(self, session: Session, code: str | None, state: str | None) -> str:
        """Exchange the code, verify both tokens; the session, renewed, is signed in. Returns
        where to go. Raises SignInFailed (the pending request is spent either way)."""
        pending, session.pending = session.pending, None
        if pending is None or not same_secret(pending.state, state):
            raise SignInFailed(
                "state does not match a sign-in started in this browser", reason="state"
            )
        if not code:
            raise SignInFailed("no authorization code", reason="no_code")
        tokens = await self._provider.exchange_code(
            code=code, code_verifier=pending.code_verifier, redirect_uri=self._routes.callback_url
        )
        if not tokens.id_token:
            raise SignInFailed("the identity provider returned no ID token", reason="no_id_token")
        try:
            identity = await self._id_tokens.verify(tokens.id_token)
            access = await self._access_tokens.verify(tokens.access_token)
        except TokenRejected as exc:
            raise SignInFailed(f"token rejected: {exc}", reason="token_rejected") from None
        if not same_secret(pending.nonce, identity.claims.get("nonce")):
            raise SignInFailed("the ID token's nonce is not this sign-in's", reason="nonce")
        if identity.subject != access.subject:
            raise SignInFailed(
                "the ID and access tokens name different people", reason="different_people"
            )
        self._sessions.renew(session)
        session.person = Person(
            username=access.username or access.subject,
            display_name=access.display_name or access.username or access.subject,
            tier=access.tier,
            roles=access.realm_roles,
        )
        session.tokens = Tokens(
            access_token=tokens.access_token,
            access_expires_at=access.expires_at.timestamp(),
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
        )
        return pending.return_to

    async def access_token(self, session: Session) -> str:
        """The session's access token, refreshed when it nears expiry. Raises SignInFailed when it
        cannot be (the session is then ended: the specialist signs in again)."""
        tokens = session.tokens
        if tokens is None:
            raise SignInFailed("not signed in")
        if tokens.access_expires_at - self._clock() > REFRESH_MARGIN_S:
            return tokens.access_token
        if not tokens.refresh_token:
            self._sessions.end(session.session_id)
            raise SignInFailed("the access token expired and there is no refresh token")
        try:
            fresh: TokenSet = await self._provider.refresh(tokens.refresh_token)
            access = await self._access_tokens.verify(fresh.access_token)
        except (SignInFailed, TokenRejected) as exc:
            self._sessions.end(session.session_id)
            raise SignInFailed(f"refresh failed: {exc}") from None
        if session.person is None or access.username != session.person.username:
            self._sessions.end(session.session_id)
            raise SignInFailed("the refreshed token names another person")
        session.tokens = Tokens(
            access_token=fresh.access_token,
            access_expires_at=access.expires_at.timestamp(),
            refresh_token=fresh.refresh_token or tokens.refresh_token,
            id_token=fresh.id_token or tokens.id_token,
        )
        return fresh.access_token

    async def sign_out(self, session: Session) -> str:
        """End the desk's session; the URL that ends the identity provider's one."""
        self._sessions.end(session.session_id)
        if session.tokens is None:
            return self._routes.signed_out_url
        return await self._provider.end_session_url(
            id_token=session.tokens.id_token,
            post_logout_redirect_uri=self._routes.signed_out_url,
        )


def _local_path(target: str) -> bool:
    """Only this site's own paths: `//evil.example` and `/\\evil` are other sites to a browser."""
    return target.startswith("/") and not target.startswith(("//", "/\\"))
