"""Stand-ins for the identity provider and the token verifiers (the real ones are exercised by
tests/integration/test_desk_browser.py against Keycloak)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from casedesk_desk.application.ports import TokenSet
from casedesk_desk.domain.errors import SignInFailed
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
