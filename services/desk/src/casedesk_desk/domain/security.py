"""Random secrets, PKCE (RFC 7636, S256 only) and CSRF token comparison."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# 32 random bytes: 256 bits, the same strength for session ids, CSRF tokens, state and nonce.
SECRET_BYTES = 32


def new_secret() -> str:
    """URL-safe random text of 43 characters (also a valid PKCE verifier: 43-128 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of `verifier`: BASE64URL(SHA256(verifier)) without padding."""
    if not 43 <= len(verifier) <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time comparison; an empty expected value never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
