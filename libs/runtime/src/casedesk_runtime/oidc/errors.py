"""Why a token was refused, and the one failure that is not the token's fault.

A reason is a fixed phrase chosen here, never text from the token or from PyJWT's messages (which
can quote header fields), so an error may be logged and returned to the caller as it is.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported algorithm"
    UNKNOWN_SIGNING_KEY = "unknown signing key"
    BAD_SIGNATURE = "bad signature"
    WRONG_ISSUER = "wrong issuer"
    WRONG_AUDIENCE = "wrong audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"


class TokenRejected(Exception):
    """The token does not prove who the caller is (gRPC: UNAUTHENTICATED)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"token rejected: {reason}")
        self.reason = reason


class IdpUnavailable(Exception):
    """The identity provider's signing keys could not be fetched, so no verdict is possible
    (gRPC: UNAVAILABLE; the caller may retry, the token itself may be fine).

    The message names the URL and what failed; it is for logs, not for the caller.
    """
