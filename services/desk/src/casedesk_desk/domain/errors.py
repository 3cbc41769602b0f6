"""What the case service answered instead of doing what the specialist asked."""

from __future__ import annotations

from enum import Enum


class RefusalKind(Enum):
    FORBIDDEN = 403  # PERMISSION_DENIED: the rules do not let this person do it
    NOT_FOUND = 404
    CONFLICT = 409  # FAILED_PRECONDITION / ABORTED: not in this status, changed meanwhile
    GONE = 410  # an attachment of a citizen whose data was erased
    INVALID = 422  # INVALID_ARGUMENT
    SIGNED_OUT = 401  # UNAUTHENTICATED: the token is no longer good
    UNAVAILABLE = 503


class Refused(Exception):
    """A refusal, with the Russian message shown to the specialist and the service's own words."""

    def __init__(self, kind: RefusalKind, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.detail = kind, message, detail


def with_service_words(refusal: Refused) -> Refused:
    """The refusal with the case service's own words added where the desk's alone would only say
    «not in this status» or «not accepted» (a merge's or a callback's rules it does not word)."""
    if refusal.kind in (RefusalKind.CONFLICT, RefusalKind.INVALID) and refusal.detail:
        message = f"{refusal.message} Ответ службы обращений: «{refusal.detail}»."
        return Refused(refusal.kind, message, refusal.detail)
    return refusal


class SignInFailed(Exception):
    """The way back from the identity provider did not prove who is signing in.

    `reason`: a fixed word for the metrics (web/metrics.py), never the message, which may quote
    the provider or a token's claims: `state`, `no_code`, `no_id_token`, `token_rejected`,
    `nonce`, `different_people`, `provider_refused`, `provider_unreachable`, `provider_broken`
    (discovery, a reply without a token), `other` (a refresh's failures, seen only in logs).
    """

    def __init__(self, message: str, reason: str = "other") -> None:
        super().__init__(message)
        self.reason = reason
