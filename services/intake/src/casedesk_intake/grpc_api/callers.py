"""Who is calling: the frontend by its bearer token, and the citizen it acts for."""

from __future__ import annotations

from collections.abc import Sequence

from casedesk_intake.domain.errors import Unauthenticated
from casedesk_intake.domain.field_rules import has_control_characters
from casedesk_intake.domain.frontends import Caller, FrontendRegistry

CITIZEN_LOGIN_KEY = "x-citizen-login"
_MAX_LOGIN = 128


def identify(frontends: FrontendRegistry, metadata: Sequence[tuple[str, object]]) -> Caller:
    headers = {key: value for key, value in metadata if isinstance(value, str)}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send metadata authorization: Bearer <frontend token>")
    frontend = frontends.identify(token.strip())
    login = headers.get(CITIZEN_LOGIN_KEY, "").strip()
    if len(login) > _MAX_LOGIN or has_control_characters(login):
        raise Unauthenticated(f"{CITIZEN_LOGIN_KEY} is malformed")
    return Caller(frontend, login)
