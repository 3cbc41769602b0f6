"""Shared builders for the case service's tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from casedesk_case.application import CommandMeta
from casedesk_case.application.personal_data import PersonalData
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    EventContext,
)
from casedesk_case.testing import CaseApplication
from casedesk_keys import IdentifierKind, IndexKey, Keyring, LocalKeySource, Subjects
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore

SYSTEM = EventContext(Actor(ActorKind.SYSTEM, "intake"), correlation_id="corr-1")
SPECIALIST = EventContext(Actor(ActorKind.SPECIALIST, "l1-004"), correlation_id="corr-2")
CITIZEN = EventContext(Actor(ActorKind.CITIZEN, "ivanov.ii"), correlation_id="corr-3")


def meta(context: EventContext = SYSTEM, key: str = "", expected: int = 0) -> CommandMeta:
    return CommandMeta(context=context, idempotency_key=key, expected_version=expected)


def citizen(login: str = "ivanov.ii") -> Citizen:
    return Citizen(
        full_name="Иванов Иван Иванович",
        snils="11223344595",
        account_login=login,
        mobile_phone="+79161234567",
        email="ivanov@example.ru",
    )


def create(app: CaseApplication, **overrides: object):  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "channel": Channel.EMAIL,
        "case_type": CaseType.TECHNICAL,
        "category": Category.TECHNICAL_FAULT,
        "citizen": citizen(),
        "content": CaseContent(subject="Не приходит СМС-код", description="Жду 10 минут"),
        "meta": meta(),
    }
    arguments.update(overrides)
    return app.create_case(**arguments)  # type: ignore[arg-type]


def answer(app: CaseApplication, case_id: str, context: EventContext = SPECIALIST) -> None:
    """A specialist's public reply: what «Ответ готов» (ANSWER_READY) needs first."""
    app.add_comment(case_id, body="Код отправлен повторно", public=True, meta=meta(context))


@pytest.fixture(params=["popo", "sqlite"])
def persistence_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "popo":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "cases.db"),
    }


@pytest.fixture
def app(persistence_env: dict[str, str]) -> Iterator[CaseApplication]:
    application = CaseApplication(env=persistence_env)
    yield application
    application.close()


# -- personal data sealed inside events (issue #18) ------------------------------------------


@dataclass
class Keys:
    """A key owner of the test's own: a keyring on SQLite with a KEK from a file (a Secret's
    provider), its KeySource, and the index key subjects are derived with."""

    keyring: Keyring
    source: LocalKeySource
    index_key: IndexKey

    def personal_data(self, loop: asyncio.AbstractEventLoop | None = None) -> PersonalData:
        return PersonalData(self.source, self.index_key, loop)

    def erase(self, login: str) -> None:
        """Erase the citizen whose strongest identifier is his portal login."""
        subject = Subjects(self.index_key).of_identifier(IdentifierKind.LOGIN, login)
        self.keyring.erase(subject, "privacy.officer", "request 2026-17")


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    (tmp_path / "kek").mkdir()
    kek = SecretFileKekProvider(tmp_path / "kek", create=True)
    keyring = Keyring(SqliteKeyStore(tmp_path / "keys.sqlite"), kek)
    yield Keys(keyring, LocalKeySource(keyring), IndexKey(os.urandom(32)))
    keyring.store.close()
    kek.close()
