"""Hand-built tokens for the verifier's tests: the ones no honest signer would produce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization

from casedesk_runtime.testing.identity_provider import SigningKey


def _segment(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """`alg: none`: a token whose signature part is empty."""
    return f"{_segment({**header, 'alg': 'none'})}.{_segment(payload)}."


def hmac_with_public_key(key: SigningKey, payload: dict[str, Any]) -> str:
    """Algorithm confusion: HS256 keyed with the issuer's *public* key (which anyone has), for a
    verifier that would take the published key as an HMAC secret."""
    secret = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_segment(payload)}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def with_payload(token: str, payload: dict[str, Any]) -> str:
    """The token's header and signature around another payload (a tampered token)."""
    header, _, signature = token.split(".")
    return f"{header}.{_segment(payload)}.{signature}"
