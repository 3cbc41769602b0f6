"""A fake OpenID Connect identity provider on loopback, for fast tests of token-verifying code.

It serves what a verifier fetches, at Keycloak's paths, over real HTTP (or HTTPS), and mints
access tokens shaped like Keycloak's:

    with FakeIdentityProvider(realm="casedesk", audience="casedesk-case") as idp:  # or async with
        verifier = TokenVerifier(idp.issuer, "casedesk-case")
        token = idp.mint_specialist("l2.petrov", tier="L2")   # RS256 with the current key
        idp.mint(subject="...", roles=["auditor"], expires_in=-60)  # any claims; here expired
        idp.mint(key=SigningKey.generate())    # signed with a key it never published
        idp.rotate_keys()                      # a new key; the old one no longer published
        idp.available = False                  # both endpoints answer 503
        idp.jwks_requests                      # how often the keys were fetched

The server runs on its own thread and event loop, so it works from sync and async tests alike and
from fixtures of any scope. `claims(...)` gives the payload `mint` would sign, for tokens a test
builds by hand (other algorithms, tampered signatures).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

_DEFAULT: Any = object()  # "the provider's own", distinct from None ("leave the claim out")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str  # RS256 or ES256
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, algorithm: str = "RS256", kid: str | None = None) -> SigningKey:
        if algorithm == "RS256":
            key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(
                public_exponent=65537, key_size=2048
            )
        elif algorithm == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"unsupported algorithm {algorithm}")
        return cls(kid or uuid.uuid4().hex, algorithm, key)

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class FakeIdentityProvider:
    def __init__(
        self,
        *,
        realm: str = "casedesk",
        audience: str = "casedesk-case",
        algorithm: str = "RS256",
        ssl_context: ssl.SSLContext | None = None,
        extra_jwks: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.realm = realm
        self.audience = audience
        self.signing_key = SigningKey.generate(algorithm)
        self.published_keys: list[SigningKey] = [self.signing_key]
        # Further JWKS entries served verbatim (e.g. Keycloak's `"use": "enc"` key).
        self.extra_jwks = [dict(entry) for entry in extra_jwks]
        self.available = True
        self.delay_s = 0.0  # before every answer, to test timeouts
        self.requests: Counter[str] = Counter()  # path -> requests received
        self._ssl = ssl_context
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- addresses -------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        if self._port is None:
            raise RuntimeError("the identity provider is not started")
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self._port}/realms/{self.realm}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def jwks_requests(self) -> int:
        return self.requests[f"/realms/{self.realm}/protocol/openid-connect/certs"]

    # --- keys and tokens -------------------------------------------------------------------

    def rotate_keys(
        self, *, keep_previous: bool = False, algorithm: str | None = None
    ) -> SigningKey:
        """Sign with a new key from now on; the previous one stays published if asked."""
        self.signing_key = SigningKey.generate(algorithm or self.signing_key.algorithm)
        kept = self.published_keys if keep_previous else []
        self.published_keys = [*kept, self.signing_key]
        return self.signing_key

    def claims(
        self,
        subject: str | None = None,
        *,
        username: str | None = None,
        name: str | None = None,
        roles: Iterable[str] = (),
        tier: str | None = None,
        audience: str | list[str] | None = _DEFAULT,
        issuer: str | None = _DEFAULT,
        expires_in: float = 300,
        issued_at: float | None = None,
        not_before: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A Keycloak-like access-token payload; None leaves a claim out."""
        now = time.time() if issued_at is None else issued_at
        payload: dict[str, Any] = {
            "iss": self.issuer if issuer is _DEFAULT else issuer,
            "aud": self.audience if audience is _DEFAULT else audience,
            "sub": subject or str(uuid.uuid4()),
            "typ": "Bearer",
            "iat": int(now),
            "exp": int(now + expires_in),
            "jti": str(uuid.uuid4()),
            "nbf": None if not_before is None else int(not_before),
            "preferred_username": username,
            "name": name,
            "realm_access": {"roles": list(roles)},
            "tier": tier,
            **(extra or {}),
        }
        return {claim: value for claim, value in payload.items() if value is not None}

    def mint(
        self,
        subject: str | None = None,
        *,
        key: SigningKey | None = None,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token with `claims(subject, **claims)`, signed by `key` (default: the current one)
        with its `kid` in the header unless `headers` overrides it (`{"kid": None}` drops it)."""
        key = key or self.signing_key
        header = {"kid": key.kid, **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        return jwt.encode(
            self.claims(subject, **claims), key.private_key, algorithm=key.algorithm, headers=header
        )

    def mint_specialist(
        self,
        username: str = "l2.petrov",
        *,
        tier: str = "L2",
        roles: Iterable[str] = ("specialist",),
        **claims: Any,
    ) -> str:
        claims.setdefault("name", username)
        return self.mint(username=username, tier=tier, roles=roles, **claims)

    def mint_citizen(
        self,
        username: str = "ivanov.ii",
        *,
        email: str | None = None,
        phone_number: str | None = None,
        **claims: Any,
    ) -> str:
        extra = {"email": email, "phone_number": phone_number, **claims.pop("extra", {})}
        claims.setdefault("name", username)
        return self.mint(username=username, extra=extra, **claims)

    # --- the server ------------------------------------------------------------------------

    def _app(self) -> web.Application:
        base = f"/realms/{self.realm}"
        app = web.Application(middlewares=[self._count_and_gate])
        app.router.add_get(f"{base}/.well-known/openid-configuration", self._discovery)
        app.router.add_get(f"{base}/protocol/openid-connect/certs", self._jwks)
        return app

    @web.middleware
    async def _count_and_gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests[request.path] += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.available:
            return web.Response(status=503, text="unavailable")
        response: web.StreamResponse = await handler(request)
        return response

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "jwks_uri": self.jwks_url,
                "authorization_endpoint": f"{self.issuer}/protocol/openid-connect/auth",
                "token_endpoint": f"{self.issuer}/protocol/openid-connect/token",
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        keys = [key.public_jwk() for key in self.published_keys]
        return web.json_response({"keys": keys + self.extra_jwks})

    def start(self) -> Self:
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(started, failure), name="fake-identity-provider", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake identity provider did not start within 10 s")
        if failure:
            raise RuntimeError("the fake identity provider did not start") from failure[0]
        return self

    def _serve(self, started: threading.Event, failure: list[BaseException]) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.5)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._ssl)
            loop.run_until_complete(site.start())
            self._port = runner.addresses[0][1]
        except BaseException as exc:
            failure.append(exc)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
