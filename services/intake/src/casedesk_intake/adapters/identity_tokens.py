"""A person's access token, verified by `casedesk_runtime.oidc` (signature against the identity
provider's published keys, issuer, audience, expiry) and read into a domain `VerifiedPerson`."""

from __future__ import annotations

from casedesk_intake.domain.acting import VerifiedPerson
from casedesk_intake.domain.errors import IdentityProviderUnavailable, Unauthenticated
from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc import IdpUnavailable, TokenRejected, TokenVerifier

log = get_logger(__name__)


class OidcIdentityTokens:
    """`key`: the metadata key the tokens come under, to name it in refusals."""

    def __init__(self, verifier: TokenVerifier, key: str) -> None:
        self._verifier = verifier
        self._key = key

    async def verify(self, token: str) -> VerifiedPerson:
        try:
            verified = await self._verifier.verify(token)
        except TokenRejected as rejected:
            raise Unauthenticated(f"{self._key} rejected: {rejected.reason}") from None
        except IdpUnavailable as unavailable:
            log.warning("identity provider unavailable", extra={"reason": str(unavailable)})
            raise IdentityProviderUnavailable(
                f"{self._key} cannot be verified now: the identity provider is unavailable, "
                "retry later"
            ) from None
        if not verified.username:
            raise Unauthenticated(f"{self._key} rejected: it carries no preferred_username")
        client = verified.claims.get("azp")
        return VerifiedPerson(
            username=verified.username,
            client=client if isinstance(client, str) else "",
            roles=verified.realm_roles,
            expires_at=verified.expires_at,
        )
