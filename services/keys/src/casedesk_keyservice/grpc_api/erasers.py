"""Who erases in an EraseCitizen call: the person whose access token comes with it (metadata
`x-person-token`, verified as the case service verifies staff tokens), who must hold the role
`privacy_officer`; or, for a service in domain/people.py's SYSTEM_ERASERS calling without a
token, the system (its retention job). In plaintext development mode (no caller known) a token
is always needed.
"""

from __future__ import annotations

from typing import Any

from casedesk_keyservice.application import PersonTokens, PersonUnauthenticated
from casedesk_keyservice.domain import SYSTEM_ERASERS, Eraser, check_may_erase
from casedesk_runtime.grpc_authz import current_caller
from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc import TokenRejected
from casedesk_runtime.oidc_grpc import PERSON_TOKEN_KEY, person_token, status_for

log = get_logger(__name__)
INSECURE_DEV = "insecure-dev"  # the journal's caller when no certificate says who called


class Erasers:
    """`tokens` None: no identity provider configured, so a person's erasure is refused saying
    so (the system's retention still works)."""

    def __init__(self, tokens: PersonTokens | None) -> None:
        self._tokens = tokens

    async def eraser(self, context: Any) -> Eraser:
        verified = current_caller()
        caller = verified.name if verified and verified.verified and verified.name else None
        try:
            token = person_token(context.invocation_metadata())
        except TokenRejected as rejected:  # more than one: whose order would it be?
            raise PersonUnauthenticated(status_for(rejected)[1]) from None
        if token is None:
            if caller in SYSTEM_ERASERS:
                return Eraser(caller)
            raise PersonUnauthenticated(
                f"erasing a citizen is a person's order: send the access token of a person with "
                f"the role privacy_officer as metadata {PERSON_TOKEN_KEY}"
            )
        if self._tokens is None:
            raise PersonUnauthenticated(
                "person tokens cannot be verified: the key service has no identity provider "
                "configured (CASEDESK_OIDC_ISSUER, CASEDESK_OIDC_AUDIENCE)"
            )
        try:
            person = await self._tokens.verify(token)
        except PersonUnauthenticated as refused:
            log.info("person token refused", extra={"caller": caller, "reason": str(refused)})
            raise
        check_may_erase(person)
        return Eraser(caller or INSECURE_DEV, person)
