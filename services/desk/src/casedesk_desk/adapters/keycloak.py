"""The identity provider's OpenID Connect endpoints, found by discovery (Keycloak's realm
`casedesk` for development; any provider with discovery, PKCE and RP-initiated logout)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from casedesk_desk.application.ports import TokenSet
from casedesk_desk.domain.errors import SignInFailed

SCOPE = "openid profile"


class OidcProvider:
    def __init__(self, issuer: str, client_id: str, http: httpx.AsyncClient) -> None:
        self._issuer, self._client_id, self._http = issuer.rstrip("/"), client_id, http
        self._endpoints: dict[str, Any] | None = None

    async def _endpoint(self, name: str) -> str:
        if self._endpoints is None:
            reply = await self._http.get(f"{self._issuer}/.well-known/openid-configuration")
            reply.raise_for_status()
            found = reply.json()
            if found.get("issuer") != self._issuer:
                raise SignInFailed(
                    "the discovery document names another issuer", reason="provider_broken"
                )
            self._endpoints = found
        value = self._endpoints.get(name)
        if not isinstance(value, str):
            raise SignInFailed(
                f"the identity provider publishes no {name}", reason="provider_broken"
            )
        return value

    async def authorization_url(
        self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str
    ) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "scope": SCOPE,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{await self._endpoint('authorization_endpoint')}?{query}"

    async def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        return await self._token_call(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
                "client_id": self._client_id,
            }
        )

    async def refresh(self, refresh_token: str) -> TokenSet:
        return await self._token_call(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self._client_id,
            }
        )

    async def end_session_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str:
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": self._client_id,
            }
        )
        return f"{await self._endpoint('end_session_endpoint')}?{query}"

    async def _token_call(self, form: dict[str, str]) -> TokenSet:
        try:
            reply = await self._http.post(await self._endpoint("token_endpoint"), data=form)
        except httpx.HTTPError as exc:
            raise SignInFailed(
                f"the identity provider is unreachable: {type(exc).__name__}",
                reason="provider_unreachable",
            ) from None
        if reply.status_code != 200:
            try:
                error = reply.json().get("error", "")
            except ValueError:
                error = ""
            raise SignInFailed(
                f"the token endpoint answered {reply.status_code} {error}".strip(),
                reason="provider_refused",
            )
        body = reply.json()
        if not isinstance(body.get("access_token"), str):
            raise SignInFailed(
                "the token endpoint returned no access token", reason="provider_broken"
            )
        return TokenSet(
            access_token=body["access_token"],
            expires_in_s=float(body.get("expires_in", 0)),
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
        )
