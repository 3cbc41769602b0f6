"""People's identity: access tokens from an OpenID Connect identity provider, verified.

    verifier = settings.person_token_verifier()        # or TokenVerifier(issuer, audience)
    person = await verifier.verify(token)              # VerifiedToken, or raises:
    # TokenRejected(reason): the token proves nothing -> UNAUTHENTICATED
    # IdpUnavailable: the signing keys cannot be fetched -> UNAVAILABLE

gRPC helpers (reading `x-person-token`, status codes) are in `casedesk_runtime.oidc_grpc`; a fake
identity provider for tests in `casedesk_runtime.testing.identity_provider`.
"""

from casedesk_runtime.oidc.errors import IdpUnavailable, Reason, TokenRejected
from casedesk_runtime.oidc.settings import CitizenOidcSettings, OidcSettings
from casedesk_runtime.oidc.verifier import TokenVerifier, VerifiedToken

__all__ = [
    "CitizenOidcSettings",
    "IdpUnavailable",
    "OidcSettings",
    "Reason",
    "TokenRejected",
    "TokenVerifier",
    "VerifiedToken",
]
