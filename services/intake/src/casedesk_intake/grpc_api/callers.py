"""Who is calling, from the call's metadata alone: the frontend by its bearer token, and the
proof of the citizen it forwarded (checked later, by the use cases' Identification)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from casedesk_intake.domain.acting import (
    ACCESS_CODE_KEY,
    CITIZEN_TOKEN_KEY,
    PERSON_TOKEN_KEY,
    Proof,
)
from casedesk_intake.domain.errors import Unauthenticated
from casedesk_intake.domain.frontends import Frontend, FrontendRegistry
from casedesk_runtime.oidc import TokenRejected
from casedesk_runtime.oidc_grpc import person_token

# Trusted once, now refused: any frontend could name any citizen with it.
RETIRED_CITIZEN_LOGIN_KEY = "x-citizen-login"
_MAX_CODE = 16


@dataclass(frozen=True)
class AdmittedCall:
    """A call the edge let in: its frontend, and the proof of the citizen, unchecked."""

    frontend: Frontend
    proof: Proof


def identify(frontends: FrontendRegistry, metadata: Sequence[tuple[str, object]]) -> AdmittedCall:
    names = {key for key, _ in metadata}
    headers = {key: value for key, value in metadata if isinstance(value, str)}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send metadata authorization: Bearer <frontend token>")
    frontend = frontends.identify(token.strip())
    if RETIRED_CITIZEN_LOGIN_KEY in names:
        raise Unauthenticated(
            f"{RETIRED_CITIZEN_LOGIN_KEY} is no longer accepted: forward the citizen's portal "
            f"token as {CITIZEN_TOKEN_KEY} (see the intake README, 'Who the citizen is')"
        )
    return AdmittedCall(frontend, _proof(metadata))


def _proof(metadata: Sequence[tuple[str, object]]) -> Proof:
    pairs = [(key, value) for key, value in metadata if isinstance(value, str | bytes)]
    tokens = {}
    for key in (CITIZEN_TOKEN_KEY, PERSON_TOKEN_KEY):
        try:
            tokens[key] = person_token(pairs, key) or ""
        except TokenRejected as rejected:
            raise Unauthenticated(f"{key} rejected: {rejected.reason}") from None
    codes = [value for key, value in pairs if key == ACCESS_CODE_KEY]
    if len(codes) > 1 or any(not isinstance(c, str) or len(c) > _MAX_CODE for c in codes):
        raise Unauthenticated(f"{ACCESS_CODE_KEY} is malformed: send one, six digits")
    code = codes[0].strip() if codes and isinstance(codes[0], str) else ""
    return Proof(tokens[CITIZEN_TOKEN_KEY], tokens[PERSON_TOKEN_KEY], code)
