"""People's access tokens for the whole-system tests, from the development Keycloak.

`keycloak` is the session fixture of support/keycloak.py (`issuer(realm)`, `token(realm,
username)`); the development users are in deploy/keycloak/casedesk-realm.json (password = login).

    env = {**case_env, **case_oidc_env(keycloak)}         # a case service verifying its tokens
    await cases.ChangeStatus(request, metadata=as_person(keycloak, "l1.ivanova"))
    ivanova = FreshTokens(keycloak, "l1.ivanova")          # a test running longer than a token
    await cases.ChangeStatus(request, metadata=ivanova.metadata())

Tokens Keycloak would not issue to the realm's own clients — already expired, without the case
service's audience — come from throwaway clients `TestClients` adds to the realm through the admin
API (the master realm's `admin`; password CASEDESK_KEYCLOAK_ADMIN_PASSWORD, default `admin`, as
tools/infra/keycloak-local.sh sets it).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Protocol

import grpc
import jwt

CASE_AUDIENCE = "casedesk-case"
REALM = "casedesk"
PERSON_TOKEN_KEY = "x-person-token"


class Keycloak(Protocol):
    def issuer(self, realm: str) -> str: ...

    def token(self, realm: str, username: str) -> str: ...


def case_oidc_env(keycloak: Keycloak) -> dict[str, str]:
    """The case service's settings for verifying the specialists' tokens of `keycloak`."""
    return {"CASEDESK_OIDC_ISSUER": keycloak.issuer(REALM), "CASEDESK_OIDC_AUDIENCE": CASE_AUDIENCE}


def as_person(keycloak: Keycloak, username: str) -> list[tuple[str, str]]:
    """gRPC metadata of a call the desk makes for `username` (a development user)."""
    return [(PERSON_TOKEN_KEY, keycloak.token(REALM, username))]


class FreshTokens:
    """One person's token reused across calls, and replaced a margin before it expires (the
    development realm's tokens live 5 minutes; some tests run longer, many calls a second)."""

    def __init__(self, keycloak: Keycloak, username: str, margin_s: float = 60.0) -> None:
        self._keycloak, self._username, self._margin_s = keycloak, username, margin_s
        self._token, self._expires_at = "", 0.0

    def metadata(self) -> list[tuple[str, str]]:
        if time.time() > self._expires_at - self._margin_s:
            self._token = self._keycloak.token(REALM, self._username)
            claims = jwt.decode(self._token, options={"verify_signature": False})
            self._expires_at = float(claims["exp"])
        return [(PERSON_TOKEN_KEY, self._token)]


class TestClients:
    """Throwaway public clients (direct access grants) in the `casedesk` realm, for tokens the
    realm's own clients never issue. Each client's name is unique, so tests sharing one Keycloak
    never meet each other's."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, keycloak: Keycloak, admin_password: str | None = None) -> None:
        self._issuer = keycloak.issuer(REALM)
        self._base = self._issuer.rsplit("/realms/", 1)[0]
        self._admin_password = admin_password or os.environ.get(
            "CASEDESK_KEYCLOAK_ADMIN_PASSWORD", "admin"
        )

    def expired_token(self, username: str, lifespan_s: int = 1) -> str:
        """A token for `username` with the case service's audience, already expired when this
        returns (issued by a client whose tokens live `lifespan_s`)."""
        client = self._client(lifespan_s=lifespan_s, audience=True)
        token = self._password_grant(client, username)
        time.sleep(lifespan_s + 1.5)  # exp has whole seconds: past it for sure
        return token

    def token_without_audience(self, username: str) -> str:
        """A valid token for `username` of the right realm that does not name `casedesk-case`."""
        return self._password_grant(self._client(lifespan_s=None, audience=False), username)

    def _client(self, *, lifespan_s: int | None, audience: bool) -> str:
        client_id = f"casedesk-test-{uuid.uuid4().hex[:8]}"
        mappers = []
        if audience:
            mappers.append({
                "name": "audience casedesk-case",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.custom.audience": CASE_AUDIENCE,
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                },
            })  # fmt: skip
        attributes = {"access.token.lifespan": str(lifespan_s)} if lifespan_s else {}
        representation = {
            "clientId": client_id,
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
            "attributes": attributes,
            "protocolMappers": mappers,
        }
        self._request(
            f"{self._base}/admin/realms/{REALM}/clients",
            json.dumps(representation).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {self._admin()}"},
        )
        return client_id

    def _admin(self) -> str:
        form = {
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": "admin",
            "password": self._admin_password,
        }
        reply = self._request(
            f"{self._base}/realms/master/protocol/openid-connect/token",
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return str(json.loads(reply)["access_token"])

    def _password_grant(self, client_id: str, username: str) -> str:
        form = {
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": username,  # the development users' password is their login
        }
        reply = self._request(
            f"{self._issuer}/protocol/openid-connect/token",
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return str(json.loads(reply)["access_token"])

    @staticmethod
    def _request(url: str, body: bytes, headers: dict[str, str]) -> bytes:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                data: Any = response.read()
                return bytes(data)
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace")
            raise RuntimeError(f"Keycloak: POST {url} answered {error.code}: {detail}") from None


def person_tokens(tokens: FreshTokens) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors sending one person's fresh token with every call of a channel (unary and
    server-streaming), as the desk does for the person signed in to it. Two objects: grpc.aio
    files an interceptor under the first call type it implements only."""
    return [_UnaryPersonToken(tokens), _StreamPersonToken(tokens)]


def _with_token(
    tokens: FreshTokens, details: grpc.aio.ClientCallDetails
) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in tokens.metadata():
        metadata[key] = value
    return details._replace(metadata=metadata)  # type: ignore[attr-defined]


class _UnaryPersonToken(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, tokens: FreshTokens) -> None:
        self._tokens = tokens

    async def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return await continuation(_with_token(self._tokens, details), request)


class _StreamPersonToken(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, tokens: FreshTokens) -> None:
        self._tokens = tokens

    async def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return await continuation(_with_token(self._tokens, details), request)
