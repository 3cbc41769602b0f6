"""Staff access tokens verified against the identity provider's keys (casedesk_runtime.oidc),
as the case service verifies them: the person is the token's `preferred_username` and realm
roles. A name no tombstone can keep as who erased (blank, over NAME_LIMIT characters, not one
printable line) names nobody the journal could answer for: refused like a token without one."""

from __future__ import annotations

from casedesk_keyservice.application import IdentityProviderUnavailable, PersonUnauthenticated
from casedesk_keyservice.domain import NAME_LIMIT, Person, keepable_name
from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc import IdpUnavailable, TokenRejected, TokenVerifier
from casedesk_runtime.oidc_grpc import PERSON_TOKEN_KEY, status_for

log = get_logger(__name__)


class OidcPersonTokens:
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def verify(self, token: str) -> Person:
        try:
            verified = await self._verifier.verify(token)
        except TokenRejected as rejected:
            raise PersonUnauthenticated(status_for(rejected)[1]) from None
        except IdpUnavailable as unavailable:
            log.warning("person token not verified: %s", unavailable)
            raise IdentityProviderUnavailable(status_for(unavailable)[1]) from None
        if not verified.username or not verified.username.strip():
            raise PersonUnauthenticated(
                f"{PERSON_TOKEN_KEY} rejected: it names no user (preferred_username)"
            )
        if not keepable_name(verified.username):
            raise PersonUnauthenticated(
                f"{PERSON_TOKEN_KEY} rejected: its preferred_username cannot be kept as who "
                f"erased (one printable line of at most {NAME_LIMIT} characters)"
            )
        return Person(verified.username, verified.realm_roles)
