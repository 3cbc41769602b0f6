"""Specialists' access tokens verified by the identity provider's keys (casedesk_runtime.oidc),
turned into the domain's `Person`: the username, the casedesk roles and the tier."""

from __future__ import annotations

from casedesk_case.application.identity import (
    IdentityProviderUnavailable,
    PersonUnauthenticated,
    VerifiedPerson,
)
from casedesk_case.domain.person_rules import Person, Role
from casedesk_case.domain.values import Tier
from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc import IdpUnavailable, TokenRejected, TokenVerifier, VerifiedToken
from casedesk_runtime.oidc_grpc import PERSON_TOKEN_KEY, status_for

log = get_logger(__name__)
_ROLES = {role.value: role for role in Role}
_TIERS = {tier.value: tier for tier in Tier}


class OidcPersonTokens:
    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def verify(self, token: str) -> VerifiedPerson:
        try:
            verified = await self._verifier.verify(token)
        except TokenRejected as rejected:
            raise PersonUnauthenticated(status_for(rejected)[1]) from None
        except IdpUnavailable as unavailable:
            log.warning("person token not verified: %s", unavailable)
            raise IdentityProviderUnavailable(status_for(unavailable)[1]) from None
        return VerifiedPerson(person_of(verified), verified.expires_at)


def person_of(token: VerifiedToken) -> Person:
    """The person a verified token names. Roles other than casedesk's are ignored; a tier claim
    other than L1, L2 or L3 is no tier (the rules then refuse work with that reason)."""
    if not token.username:
        raise PersonUnauthenticated(
            f"{PERSON_TOKEN_KEY} rejected: it names no user (preferred_username)"
        )
    return Person(
        username=token.username,
        roles=frozenset(_ROLES[r] for r in token.realm_roles if r in _ROLES),
        tier=_TIERS.get(token.tier or ""),
    )
