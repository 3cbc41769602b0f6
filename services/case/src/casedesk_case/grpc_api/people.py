"""Who acts in a call: the caller's certificate identity and, for the desk and operators' tools,
the person whose access token comes with the call (`x-person-token`).

- `intake` and `escalation` act by themselves: the command's actor is what they name, within
  what they stand for (domain/person_rules.py: intake a CITIZEN or SYSTEM, escalation SYSTEM).
  Intake alone also names the operator who identified the citizen it acts for, and, when an
  operator reads a case through it, sends the operator's token with the read: the read is then
  the operator's (the person rules decide what he sees) and journaled as his, via intake.
  Without a token intake reads for itself (a citizen his own case): not journaled.
- `desk` and `operator` act for a person: without a valid token the call is UNAUTHENTICATED
  (the reason in words), with the identity provider away UNAVAILABLE; the actor is the person.
- In plaintext development mode (CASEDESK_GRPC_INSECURE_DEV) no caller is known: a call with a
  person token acts for that person exactly as the desk's would; one without acts as it names,
  as before people were verified (the server warned at start that nothing is authorised).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from casedesk_case.application.identity import (
    PersonTokens,
    PersonUnauthenticated,
    VerifiedPerson,
)
from casedesk_case.application.person_reads import DEFAULT_PURPOSE, Reader
from casedesk_case.domain.person_rules import (
    PERSON_CALLERS,
    READING_FOR_PEOPLE,
    Person,
    check_may_name_identifier,
    check_service_actor,
    person_actor,
)
from casedesk_case.domain.values import Actor
from casedesk_case.grpc_api.checks import InvalidRequest
from casedesk_runtime.grpc_authz import current_caller
from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc import TokenRejected
from casedesk_runtime.oidc_grpc import PERSON_TOKEN_KEY, person_token, status_for

log = get_logger(__name__)

PURPOSE_KEY = "x-access-purpose"
INSECURE_DEV = "insecure-dev"  # the journal's caller when no certificate says who called
MAX_PURPOSE_LENGTH = 200


@dataclass(frozen=True)
class Acting:
    caller: str  # the certificate's identity, or INSECURE_DEV
    person: Person | None
    expires_at: datetime | None = None  # the person token's expiry
    purpose: str = DEFAULT_PURPOSE
    # The person a service reads for (READING_FOR_PEOPLE); only reads look at it: the
    # service's commands still act as the service names, within what it stands for.
    reads_for: Person | None = None

    def actor(self, named: Actor | None) -> Actor | None:
        """The actor of a command given the one the request named (None: it named none; then
        None back for a service, whose request is refused for it)."""
        if self.person is not None:
            return person_actor(self.person, named)
        if named is None:
            return None
        if self.caller != INSECURE_DEV:
            check_service_actor(self.caller, named)
        return named

    def identifier(self, named: str) -> str:
        """The operator who identified the acting citizen, as the request names him (empty:
        none), if this caller may say so (domain/person_rules.py)."""
        if named and (self.person is not None or self.caller != INSECURE_DEV):
            check_may_name_identifier(self.caller, self.person)
        return named

    def reader(self) -> Reader | None:
        """Who reads, for the access journal; None for a service reading for itself (intake
        serving a citizen their own case) or an unverified development call without a token."""
        person = self.person or self.reads_for
        if person is None:
            return None
        return Reader(person, self.caller, self.purpose)


class People:
    """Works out `Acting` for each call; `tokens` None: no identity provider configured, so
    every call that needs a person token is refused saying so."""

    def __init__(self, tokens: PersonTokens | None) -> None:
        self._tokens = tokens

    async def acting(self, context: Any) -> Acting:
        verified_caller = current_caller()
        name = verified_caller.name if verified_caller and verified_caller.verified else None
        if name is not None and name not in PERSON_CALLERS | READING_FOR_PEOPLE:
            return Acting(name, None)
        caller = name or INSECURE_DEV
        metadata = list(context.invocation_metadata() or ())
        try:
            token = person_token(metadata)
        except TokenRejected as rejected:  # more than one: whose call would it be?
            raise PersonUnauthenticated(status_for(rejected)[1]) from None
        if token is None and (name is None or name in READING_FOR_PEOPLE):
            return Acting(caller, None)
        verified = await self._verify(token, caller)
        purpose = _purpose([value for key, value in metadata if key == PURPOSE_KEY])
        if name in READING_FOR_PEOPLE:
            return Acting(caller, None, purpose=purpose, reads_for=verified.person)
        return Acting(caller, verified.person, verified.expires_at, purpose)

    async def _verify(self, token: str | None, caller: str) -> VerifiedPerson:
        if not token:
            raise PersonUnauthenticated(
                f"this call acts for a person: send their access token as metadata "
                f"{PERSON_TOKEN_KEY}"
            )
        if self._tokens is None:
            raise PersonUnauthenticated(
                "person tokens cannot be verified: the case service has no identity provider "
                "configured (CASEDESK_OIDC_ISSUER, CASEDESK_OIDC_AUDIENCE)"
            )
        try:
            return await self._tokens.verify(token)
        except PersonUnauthenticated as refused:
            log.info("person token refused", extra={"caller": caller, "reason": str(refused)})
            raise


def _purpose(values: list[str]) -> str:
    """Why the person reads: percent-encoded UTF-8 (gRPC metadata is ASCII), one line, short."""
    if not values:
        return DEFAULT_PURPOSE
    if len(values) > 1:
        raise _bad_purpose("give it once")
    try:
        purpose = unquote(values[0], errors="strict").strip()
    except UnicodeDecodeError:
        raise _bad_purpose("is not percent-encoded UTF-8") from None
    if not purpose:
        raise _bad_purpose(f"is empty (leave it out for {DEFAULT_PURPOSE!r})")
    if len(purpose) > MAX_PURPOSE_LENGTH:
        raise _bad_purpose(f"is longer than {MAX_PURPOSE_LENGTH} characters")
    if not purpose.isprintable():
        raise _bad_purpose("must be one line of printable text")
    return purpose


def _bad_purpose(problem: str) -> InvalidRequest:
    return InvalidRequest([(PURPOSE_KEY, problem)])
