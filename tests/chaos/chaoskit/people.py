"""Who acts in the chaos run: synthetic citizens, and the specialist's identity provider.

Every citizen is made up and numbered (logins, e-mail addresses and phone numbers unique within
the run), so a case is found by its citizen without anything real in it, and nothing of theirs is
ever printed: reports name case numbers and ids only.

The specialists' tokens come from the runtime's fake OpenID provider (real HTTP, real RS256) in
Keycloak's shape, not from Keycloak: the identity provider is not what the run breaks, and a
JVM less leaves the two cores to the system under test.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

from casedesk.common.v1 import types_pb2 as T
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

SPECIALIST = "l3.chaos"  # an L3 specialist works every case, escalated ones included
REALM = "casedesk"
CASE_AUDIENCE = "casedesk-case"


class SpecialistsIdentityProvider:
    """The `support.people.Keycloak` protocol over a fake provider of the `casedesk` realm."""

    def __init__(self) -> None:
        self.provider = FakeIdentityProvider(realm=REALM, audience=CASE_AUDIENCE)
        self._subjects: dict[str, str] = {}

    def __enter__(self) -> SpecialistsIdentityProvider:
        self.provider.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.provider.__exit__(None, None, None)

    def issuer(self, realm: str) -> str:
        self._check(realm)
        return self.provider.issuer

    def token(self, realm: str, username: str) -> str:
        self._check(realm)
        subject = self._subjects.setdefault(username, str(uuid.uuid4()))
        return self.provider.mint_specialist(username, tier="L3", subject=subject)

    @staticmethod
    def _check(realm: str) -> None:
        if realm != REALM:
            raise ValueError(f"only the {REALM} realm's specialists act in the chaos run")


@dataclass(frozen=True)
class Citizen:
    login: str
    email: str
    phone: str

    def submission(self, key: str) -> intake_pb2.SubmitCaseRequest:
        return intake_pb2.SubmitCaseRequest(
            idempotency_key=key,
            channel=T.PORTAL_CHAT,
            citizen=T.Citizen(
                full_name="Сидоров Пётр Ильич", account_login=self.login,
                mobile_phone=self.phone, email=self.email,
                preferred_contact=T.CONTACT_SMS_AND_EMAIL,
            ),
            content=T.CaseContent(
                subject="Не открывается раздел «Мои заявления»",
                description="После входа страница долго грузится и показывает ошибку",
            ),
            provenance=T.Provenance(chat=T.ChatOrigin(session_id=f"chat-{key[:12]}")),
        )  # fmt: skip


class Citizens:
    """Numbered synthetic citizens of one run; the run's tag keeps runs apart."""

    def __init__(self) -> None:
        self._run = uuid.uuid4().hex[:6]
        self._numbers = itertools.count(1)

    def new(self) -> Citizen:
        n = next(self._numbers)
        login = f"chaos.{self._run}.{n:06d}"
        return Citizen(login, f"{login}@example.ru", f"+7999{n:07d}")
