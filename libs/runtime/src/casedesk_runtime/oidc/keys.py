"""The identity provider's signing keys: discovered, cached, refetched when a new key appears.

Keys are fetched on first use (or by `refresh`), kept for `max_age_s`, and refetched early when a
token names a key id the cache does not hold: that is how a key rotated at the identity provider
is picked up without a restart. Every fetch, whatever its trigger, is at least
`refetch_interval_s` after the previous attempt, so a spray of tokens with invented key ids costs
one fetch per interval, not one per token. A refetch replaces the whole set: a key the identity
provider withdrew stops verifying. If a refresh fails while the token's key is already known, the
known key keeps working (the identity provider being away should not sign everyone out).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWTError

from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc.errors import IdpUnavailable, Reason, TokenRejected
from casedesk_runtime.oidc.fetch import fetch_json

log = get_logger(__name__)

# Asymmetric only: with HS* the "key" would be something public (CVE-2015-9235's confusion).
ALGORITHMS = frozenset({"RS256", "ES256"})
_MIN_RSA_BITS = 2048


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def usable_keys(document: Mapping[str, Any]) -> dict[str, PyJWK]:
    """Signature keys of a JWKS by key id; encryption keys, other algorithms and weak keys are
    left out (Keycloak, for one, publishes an RSA-OAEP encryption key beside its signing keys)."""
    keys: dict[str, PyJWK] = {}
    entries = document.get("keys")
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        kid, alg = jwk.get("kid"), jwk.get("alg") or _implied_algorithm(jwk)
        if not isinstance(kid, str) or not kid or alg not in ALGORITHMS:
            continue
        try:
            key = PyJWK(jwk, algorithm=alg)
        except PyJWTError:
            log.warning("signing key %s in the JWKS is unusable, ignored", kid)
            continue
        if jwk.get("kty") == "RSA" and key.key.key_size < _MIN_RSA_BITS:
            log.warning("signing key %s is RSA below %d bits, ignored", kid, _MIN_RSA_BITS)
            continue
        keys[kid] = key
    return keys


def _implied_algorithm(jwk: Mapping[str, Any]) -> str | None:
    if jwk.get("kty") == "RSA":
        return "RS256"
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return "ES256"
    return None


class SigningKeys:
    def __init__(
        self,
        issuer: str,
        *,
        jwks_url: str | None,
        tls: ssl.SSLContext,
        fetch_timeout_s: float,
        refetch_interval_s: float,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._tls = tls
        self._timeout_s = fetch_timeout_s
        self._interval_s = refetch_interval_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_failure: str | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> PyJWK:
        """The key `kid` names; TokenRejected(UNKNOWN_SIGNING_KEY) if the identity provider does
        not publish it, IdpUnavailable if its keys cannot be fetched and `kid` is not known."""
        key = self._keys.get(kid)
        if key is not None and (self._fresh() or self._lock.locked()):
            return key  # a known key need not wait for a refresh under way
        async with self._lock:  # one fetch at a time; the waiters then read its result
            key = self._keys.get(kid)
            if key is not None and self._fresh():
                return key
            if self._may_fetch():
                try:
                    await self._fetch()
                except IdpUnavailable:
                    if key is not None:
                        return key
                    raise
            elif key is None and self._last_failure is not None:
                raise IdpUnavailable(self._last_failure)
            key = self._keys.get(kid)
        if key is None:
            raise TokenRejected(Reason.UNKNOWN_SIGNING_KEY)
        return key

    async def refresh(self) -> None:
        """Fetch the keys now, whatever the interval (e.g. at start, to fail early)."""
        async with self._lock:
            await self._fetch()

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._max_age_s

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._interval_s

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            jwks_url = self._jwks_url or await self._discover()
            document = await fetch_json(
                jwks_url, what="JWKS", context=self._tls, timeout_s=self._timeout_s
            )
            keys = usable_keys(document)
            if not keys:
                raise IdpUnavailable(f"JWKS from {jwks_url} has no usable signing key")
        except IdpUnavailable as exc:
            self._last_failure = str(exc)
            log.warning("signing keys of %s not refreshed: %s", self._issuer, exc)
            raise
        if keys.keys() != self._keys.keys():
            log.info("signing keys of %s: %s", self._issuer, ", ".join(sorted(keys)))
        self._jwks_url, self._keys = jwks_url, keys
        self._fetched_at, self._last_failure = self._clock(), None

    async def _discover(self) -> str:
        url = discovery_url(self._issuer)
        document = await fetch_json(
            url, what="OpenID configuration", context=self._tls, timeout_s=self._timeout_s
        )
        # OpenID Connect Discovery 1.0 §4.3: the document must name exactly this issuer.
        if document.get("issuer") != self._issuer:
            raise IdpUnavailable(f"OpenID configuration at {url} is for another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IdpUnavailable(f"OpenID configuration at {url} has no usable jwks_uri")
        return jwks_uri
