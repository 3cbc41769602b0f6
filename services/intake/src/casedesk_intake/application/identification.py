"""Whom a call acts for: the proof its frontend forwarded, checked (domain/acting.py says which
frontend may forward which proof, and what each proves).

Tokens are verified here, once per call, before the use case runs; a one-time code only names
its holder here and is checked against the case number by the use case (access_codes.py).
"""

from __future__ import annotations

from collections.abc import Collection

from casedesk_intake.application.ports import IdentityTokens
from casedesk_intake.domain.access_codes import is_code
from casedesk_intake.domain.acting import (
    ACCESS_CODE_KEY,
    CITIZEN_TOKEN_KEY,
    CONTACT_CHANNELS,
    OPERATOR_CHANNELS,
    PERSON_TOKEN_KEY,
    PORTAL_CHANNELS,
    Caller,
    CodeHolder,
    Operator,
    PortalCitizen,
    Proof,
)
from casedesk_intake.domain.errors import NotYourCase, Unauthenticated
from casedesk_intake.domain.frontends import Frontend


class Identification:
    """`citizens`: the portal's tokens (None: not configured, every citizen token is refused
    saying so); `staff`: the operators' identity provider, likewise; an operator needs one of
    `operator_roles`."""

    def __init__(
        self,
        citizens: IdentityTokens | None,
        staff: IdentityTokens | None,
        operator_roles: Collection[str],
    ) -> None:
        self._citizens = citizens
        self._staff = staff
        self._operator_roles = frozenset(operator_roles)

    async def caller(self, frontend: Frontend, proof: Proof) -> Caller:
        kinds = proof.kinds()
        if len(kinds) > 1:
            raise Unauthenticated(f"send one proof of the citizen, not {' and '.join(kinds)}")
        if proof.citizen_token:
            return Caller(frontend, await self._portal_citizen(frontend, proof.citizen_token))
        if proof.person_token:
            return Caller(frontend, await self._operator(frontend, proof.person_token))
        if proof.access_code:
            return Caller(frontend, _code_holder(frontend, proof.access_code))
        return Caller(frontend)

    async def _portal_citizen(self, frontend: Frontend, token: str) -> PortalCitizen:
        if not frontend.serves_any(PORTAL_CHANNELS):
            raise NotYourCase(
                f"frontend {frontend.name} serves no portal channel: {CITIZEN_TOKEN_KEY} comes "
                "only through PORTAL_CHAT and PERSONAL_ACCOUNT frontends"
            )
        if self._citizens is None:
            raise Unauthenticated(
                f"{CITIZEN_TOKEN_KEY} cannot be verified: intake has no portal identity provider "
                "configured (CASEDESK_CITIZEN_OIDC_ISSUER, CASEDESK_CITIZEN_OIDC_AUDIENCE)"
            )
        citizen = await self._citizens.verify(token)
        frontend.check_citizen_client(citizen.client)
        return PortalCitizen(citizen.username, citizen.expires_at)

    async def _operator(self, frontend: Frontend, token: str) -> Operator:
        if not frontend.serves_any(OPERATOR_CHANNELS):
            raise NotYourCase(
                f"frontend {frontend.name} serves neither PHONE nor MFC: only their operators "
                f"act for citizens ({PERSON_TOKEN_KEY})"
            )
        if self._staff is None:
            raise Unauthenticated(
                f"{PERSON_TOKEN_KEY} cannot be verified: intake has no staff identity provider "
                "configured (CASEDESK_OIDC_ISSUER, CASEDESK_OIDC_AUDIENCE)"
            )
        person = await self._staff.verify(token)
        if not person.roles & self._operator_roles:
            raise NotYourCase(
                f"the holder of the {PERSON_TOKEN_KEY} may not act for citizens: it needs one of "
                f"the roles {', '.join(sorted(self._operator_roles))}"
            )
        return Operator(person.username, token, person.expires_at)


def _code_holder(frontend: Frontend, code: str) -> CodeHolder:
    if not frontend.serves_any(CONTACT_CHANNELS):
        raise NotYourCase(
            f"frontend {frontend.name} serves only portal channels, whose citizens prove "
            f"themselves with {CITIZEN_TOKEN_KEY}, not {ACCESS_CODE_KEY}"
        )
    if not is_code(code):
        raise Unauthenticated(f"{ACCESS_CODE_KEY} is malformed: six digits expected")
    return CodeHolder(code)
