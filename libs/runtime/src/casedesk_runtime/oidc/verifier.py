"""Access tokens from an OpenID Connect identity provider, verified into a `VerifiedToken`.

A token is accepted only if all of these hold: it is a JWS signed with RS256 or ES256 (never
`none`, never HS*), its header names the signing key (`kid`) and that key is one the issuer
publishes (see `keys`), the signature verifies with it, `iss` is the configured issuer, `aud` is or
contains the configured audience, and `exp`/`nbf`/`iat` hold within the leeway. `sub`, `exp` and
`iat` must be present. Whatever fails is a `TokenRejected` with a fixed reason; only the key fetch
failing is an `IdpUnavailable`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import jwt

from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc.errors import Reason, TokenRejected
from casedesk_runtime.oidc.fetch import tls_context
from casedesk_runtime.oidc.keys import ALGORITHMS, SigningKeys, discovery_url

log = get_logger(__name__)

# Keycloak's access tokens are 1-3 KB; a cap keeps a hostile header from costing a parse.
MAX_TOKEN_BYTES = 16 * 1024
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# Tokens remembered as verified (by their SHA-256), the oldest forgotten first: a bound on the
# memory a flood of distinct tokens can take (about 1 KiB each).
MAX_REMEMBERED = 10_000
# A compact JWS: header.payload.signature, each base64url, padded by some issuers as PyJWT
# allows (the signature of an `alg: none` token is empty; that token is refused for its algorithm).
_COMPACT = re.compile(r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]*={0,2}")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class VerifiedToken:
    """Who the token says the caller is. Names and the raw claims stay out of `repr`, so a token
    logged by mistake shows only its subject id, roles and tier."""

    subject: str
    issuer: str
    expires_at: datetime
    realm_roles: frozenset[str]
    tier: str | None
    username: str | None = field(repr=False)  # `preferred_username`
    display_name: str | None = field(repr=False)  # `name`
    claims: Mapping[str, Any] = field(repr=False)

    def has_role(self, role: str) -> bool:
        return role in self.realm_roles


@dataclass(frozen=True)
class _Remembered:
    """A token verified before: what it proved, and the key that signed it."""

    token: VerifiedToken
    kid: str
    key: jwt.PyJWK


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        ca_file: str | Path | None = None,
        leeway_s: float = 30.0,
        fetch_timeout_s: float = 5.0,
        refetch_interval_s: float = 10.0,
        max_key_age_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("a token verifier needs an issuer and an audience")
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        first_fetch = urlsplit(jwks_url or discovery_url(issuer))
        if first_fetch.scheme != "https" and first_fetch.hostname not in _LOOPBACK:
            log.warning(
                "signing keys of %s are fetched over plaintext %s: whoever is on the path can "
                "substitute them (acceptable for development only)",
                issuer,
                first_fetch.scheme,
            )
        self._keys = SigningKeys(
            issuer,
            jwks_url=jwks_url,
            tls=tls_context(str(ca_file) if ca_file else None),
            fetch_timeout_s=fetch_timeout_s,
            refetch_interval_s=refetch_interval_s,
            max_age_s=max_key_age_s,
            clock=clock,
        )
        self._remembered: dict[bytes, _Remembered] = {}

    async def refresh_keys(self) -> None:
        """Fetch the signing keys now (optional; `verify` fetches them when needed).
        Raises IdpUnavailable."""
        await self._keys.refresh()

    async def verify(self, token: str) -> VerifiedToken:
        """Raises TokenRejected, or IdpUnavailable when the signing keys cannot be fetched."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected(Reason.MALFORMED)
        # A token is verified once: its calls after the first (a desk's, a portal page's) cost a
        # hash. Only its digest is kept, and only until it expires.
        digest = hashlib.sha256(token.encode()).digest()
        recalled = await self._recalled(digest)
        if recalled is not None:
            return recalled
        header, unverified = _unverified(token)
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            raise TokenRejected(Reason.UNSUPPORTED_ALGORITHM)
        if not isinstance(kid, str) or not kid:
            raise TokenRejected(Reason.MALFORMED)
        # Before looking the key up: a token of another issuer (another realm, say) must not
        # trigger a refetch of this issuer's keys.
        if unverified.get("iss") != self.issuer:
            raise TokenRejected(Reason.WRONG_ISSUER)
        key = await self._keys.key_for(kid)
        if key.algorithm_name != algorithm:
            raise TokenRejected(Reason.BAD_SIGNATURE)
        self._decode(token, header, unverified, key)
        verified = _verified(unverified)
        self._remember(digest, _Remembered(verified, kid, key))
        return verified

    async def _recalled(self, digest: bytes) -> VerifiedToken | None:
        """The token of `digest` as verified before, while it has not expired and the key that
        signed it is still the issuer's (a withdrawn key fails its tokens at once, as before)."""
        remembered = self._remembered.get(digest)
        if remembered is None:
            return None
        if time.time() >= remembered.token.expires_at.timestamp():
            del self._remembered[digest]
            return None  # verified afresh: the leeway decides, as for any token
        if await self._keys.key_for(remembered.kid) is not remembered.key:
            self._remembered.pop(digest, None)
            return None  # the keys were fetched again since: verified afresh against them
        return remembered.token

    def _decode(
        self, token: str, header: Mapping[str, Any], claims: Mapping[str, Any], key: jwt.PyJWK
    ) -> None:
        """The checks that make the token's claims trustworthy (signature, then claims)."""
        _check_signature(token, header, key)
        _check_claims(claims, self.issuer, self.audience, time.time(), self.leeway_s)

    def _remember(self, digest: bytes, remembered: _Remembered) -> None:
        if len(self._remembered) >= MAX_REMEMBERED:
            del self._remembered[next(iter(self._remembered))]  # the oldest
        self._remembered[digest] = remembered


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims, read without any check but their form: enough to choose the key
    and refuse another issuer's token early. They are trusted only once `_check_signature` and
    `_check_claims` have passed."""
    if not _COMPACT.fullmatch(token):
        raise TokenRejected(Reason.MALFORMED)
    header_segment, payload_segment, _ = token.split(".")
    try:
        header, claims = (json.loads(_base64url(s)) for s in (header_segment, payload_segment))
    except (ValueError, RecursionError):
        raise TokenRejected(Reason.MALFORMED) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected(Reason.MALFORMED)
    return header, claims


def _base64url(segment: str) -> bytes:
    bare = segment.rstrip("=")
    return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))


# The checks PyJWT's `jwt.decode` made, in its order and with its outcomes, done here on the
# token `_unverified` already read: PyJWT parses the token afresh (twice, counting its header read)
# and checks the base64 alphabet byte by byte in Python, most of a verification's CPU once the
# RSA signature itself is counted out. The signature is still checked by PyJWT's algorithm of the
# key (`PyJWK.Algorithm`), as `jwt.decode` did.


def _check_signature(token: str, header: Mapping[str, Any], key: jwt.PyJWK) -> None:
    """The header's form, each segment's canonical base64url, then the signature by `key`."""
    if "kid" in header and not isinstance(header["kid"], str):
        raise TokenRejected(Reason.MALFORMED)
    if "crit" in header:
        _check_critical(header)
    if header.get("b64", True) is False:
        raise TokenRejected(Reason.MALFORMED)  # a detached payload, which no issuer of ours sends
    signing_input, _, signature_segment = token.rpartition(".")
    header_segment, _, payload_segment = signing_input.partition(".")
    _canonical(header_segment)
    _canonical(payload_segment)
    signature = _canonical(signature_segment)
    algorithm = key.Algorithm
    try:
        # prepare_key checks the key fits the algorithm (an EC key's curve), as jwt.decode did.
        genuine = algorithm.verify(
            signing_input.encode(), algorithm.prepare_key(key.key), signature
        )
    except jwt.PyJWTError:
        raise TokenRejected(Reason.MALFORMED) from None
    if not genuine:
        raise TokenRejected(Reason.BAD_SIGNATURE)


def _check_critical(header: Mapping[str, Any]) -> None:
    """`crit` may name only the extension PyJWT knows (`b64`), and only when it is present."""
    critical = header["crit"]
    if (
        not isinstance(critical, list)
        or not critical
        or not all(isinstance(name, str) and name == "b64" and name in header for name in critical)
    ):
        raise TokenRejected(Reason.MALFORMED)


def _canonical(segment: str) -> bytes:
    """A segment's bytes, if it is base64url in the one form that encodes them (padding at most
    to a multiple of four, no stray bits in its last character), else MALFORMED."""
    bare = segment.rstrip("=")
    if (len(bare) != len(segment) and len(segment) % 4) or len(bare) % 4 == 1:
        raise TokenRejected(Reason.MALFORMED)
    try:
        decoded = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except ValueError:
        raise TokenRejected(Reason.MALFORMED) from None
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != bare.encode():
        raise TokenRejected(Reason.MALFORMED)
    return decoded


def _check_claims(
    claims: Mapping[str, Any], issuer: str, audience: str, now: float, leeway: float
) -> None:
    """Required claims present; iat, nbf and exp within the leeway; our issuer; our audience
    among the token's; sub and jti strings where present."""
    for name in _REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise TokenRejected(Reason.WRONG_AUDIENCE if name == "aud" else Reason.MALFORMED)
    if _seconds(claims["iat"]) > now + leeway:
        raise TokenRejected(Reason.NOT_YET_VALID)
    if "nbf" in claims and _seconds(claims["nbf"]) > now + leeway:
        raise TokenRejected(Reason.NOT_YET_VALID)
    if _seconds(claims["exp"]) <= now - leeway:
        raise TokenRejected(Reason.EXPIRED)
    if not isinstance(claims["iss"], str) or claims["iss"] != issuer:
        raise TokenRejected(Reason.WRONG_ISSUER)
    audiences = claims["aud"]
    if isinstance(audiences, str):
        audiences = [audiences]
    if (
        not audiences
        or not isinstance(audiences, list)
        or not all(isinstance(a, str) for a in audiences)
        or audience not in audiences
    ):
        raise TokenRejected(Reason.WRONG_AUDIENCE)
    if not isinstance(claims["sub"], str) or not isinstance(claims.get("jti", ""), str):
        raise TokenRejected(Reason.MALFORMED)


def _seconds(value: Any) -> int:
    """A time claim as PyJWT read it (`int(value)`), MALFORMED where that fails."""
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        raise TokenRejected(Reason.MALFORMED) from None


def _verified(claims: dict[str, Any]) -> VerifiedToken:
    realm_access = claims.get("realm_access", {})
    roles = realm_access.get("roles", []) if isinstance(realm_access, dict) else None
    username, name, tier = (claims.get(c) for c in ("preferred_username", "name", "tier"))
    if (
        not isinstance(claims["sub"], str)
        or not isinstance(roles, list)
        or not all(isinstance(role, str) for role in roles)
        or not all(value is None or isinstance(value, str) for value in (username, name, tier))
    ):
        raise TokenRejected(Reason.MALFORMED)
    return VerifiedToken(
        subject=claims["sub"],
        issuer=claims["iss"],
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        realm_roles=frozenset(roles),
        tier=tier,
        username=username,
        display_name=name,
        claims=MappingProxyType(claims),
    )
