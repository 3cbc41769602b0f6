"""Retention (issue #18 item 4, adapters/retention.py): a citizen whose cases are all closed for
longer than the period is erased in the key service; an open or a recently closed case keeps
him; repeated scans are harmless; with sealing off nothing is ever erased."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_case.__main__ import _retention
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.retention import Retention, key_service_eraser, reason_for
from casedesk_case.application.personal_fields import CitizenErased
from casedesk_case.domain.values import CaseContent, Citizen, CloseReason, Status
from casedesk_case.settings import CaseSettings
from casedesk_case.testing import CaseApplication
from casedesk_keys import IdentifierKind, SubjectId, Subjects

from ..conftest import SPECIALIST, Keys, citizen, create, meta

PERIOD = timedelta(days=1826)


@dataclass
class KeyServiceFake:
    """EraseCitizen on the test's keyring, as the key service does it for the case service."""

    keys: Keys
    orders: list[tuple[list[str], str]] = field(default_factory=list)

    async def __call__(self, subjects: Sequence[str], reason: str) -> int:
        self.orders.append((list(subjects), reason))
        erased = 0
        for text in subjects:
            subject = SubjectId.from_text(text)
            stored = self.keys.keyring.store.latest(subject)
            if stored is not None and stored.tombstone is not None:
                continue  # already erased: the key service answers already_erased
            self.keys.keyring.erase(subject, "system:case", reason)
            erased += 1
        return erased


@pytest.fixture
def sealed_app(persistence_env: dict[str, str], keys: Keys) -> Iterator[CaseApplication]:
    application = CaseApplication(env=persistence_env, personal_data=keys.personal_data())
    yield application
    application.close()


def closed(app: CaseApplication, login: str) -> str:
    case_id = create(app, citizen=citizen(login)).case_id
    app.close_case(case_id, reason=CloseReason.SPAM, explanation="реклама", meta=meta(SPECIALIST))
    return case_id


def subject(keys: Keys, login: str) -> str:
    return str(Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, login))


def retention(app: CaseApplication, keys: Keys, fake: KeyServiceFake) -> Retention:
    return Retention(app, keys.personal_data(), fake, PERIOD)


def opens(app: CaseApplication, keys: Keys, case_id: str) -> bool:
    try:
        keys.personal_data().open_citizen(case_id, app.get_case(case_id).citizen)
    except CitizenErased:
        return False
    return True


def test_a_citizen_whose_cases_are_all_closed_long_ago_is_erased_and_no_other(
    sealed_app: CaseApplication, keys: Keys
) -> None:
    petrov = [closed(sealed_app, "petrov.pp"), closed(sealed_app, "petrov.pp")]
    ivanov_closed = closed(sealed_app, "ivanov.ii")
    ivanov_open = create(sealed_app, citizen=citizen("ivanov.ii")).case_id  # keeps him
    # A citizen without a login, whose open case has no subject: the case itself names him.
    snils_only = Citizen(full_name="Сидоров", snils="11223344595")
    closed_sidorov = create(sealed_app, citizen=snils_only).case_id
    sealed_app.close_case(closed_sidorov, reason=CloseReason.SPAM, explanation="реклама",
                          meta=meta(SPECIALIST))  # fmt: skip
    create(sealed_app, citizen=snils_only, content=CaseContent(description="без темы"))
    CaseIndexProjector(sealed_app, sealed_app.index).catch_up()
    fake = KeyServiceFake(keys)
    now = datetime.now(UTC)

    # Closed, but not for longer than the period yet: nobody.
    assert (
        asyncio.run(retention(sealed_app, keys, fake).scan(now + PERIOD - timedelta(hours=1))) == 0
    )
    assert fake.orders == []
    assert (
        asyncio.run(retention(sealed_app, keys, fake).scan(now + PERIOD + timedelta(hours=1))) == 1
    )
    assert fake.orders == [([subject(keys, "petrov.pp")], reason_for(PERIOD))]
    assert [opens(sealed_app, keys, c) for c in petrov] == [False, False]
    assert opens(sealed_app, keys, ivanov_closed) and opens(sealed_app, keys, ivanov_open)
    assert opens(sealed_app, keys, closed_sidorov)
    # The erased citizen's cases are still listed and counted.
    assert sealed_app.get_case(petrov[0]).status is Status.CLOSED


def test_repeated_scans_are_harmless(sealed_app: CaseApplication, keys: Keys) -> None:
    case_id = closed(sealed_app, "petrov.pp")
    CaseIndexProjector(sealed_app, sealed_app.index).catch_up()
    fake = KeyServiceFake(keys)
    later = datetime.now(UTC) + PERIOD + timedelta(days=1)
    scanner = retention(sealed_app, keys, fake)
    assert asyncio.run(scanner.scan(later)) == 1
    assert asyncio.run(scanner.scan(later)) == 0  # remembered: not ordered again
    assert len(fake.orders) == 1
    # Another replica, or this one restarted: ordered again, answered already erased.
    assert asyncio.run(retention(sealed_app, keys, fake).scan(later)) == 0
    assert len(fake.orders) == 2
    assert not opens(sealed_app, keys, case_id)


def test_nothing_is_erased_while_the_index_lags_behind_the_store(
    sealed_app: CaseApplication, keys: Keys
) -> None:
    closed(sealed_app, "petrov.pp")
    CaseIndexProjector(sealed_app, sealed_app.index).catch_up()
    # Petrov's new case, not in the index yet, must keep him.
    create(sealed_app, citizen=citizen("petrov.pp"))
    fake = KeyServiceFake(keys)
    later = datetime.now(UTC) + PERIOD + timedelta(days=1)
    assert asyncio.run(retention(sealed_app, keys, fake).scan(later)) == 0
    assert fake.orders == []
    CaseIndexProjector(sealed_app, sealed_app.index).catch_up()
    assert asyncio.run(retention(sealed_app, keys, fake).scan(later)) == 0  # open: kept
    assert fake.orders == []


def test_cases_stored_with_sealing_off_are_never_erased(app: CaseApplication, keys: Keys) -> None:
    case_id = create(app).case_id
    app.close_case(case_id, reason=CloseReason.SPAM, explanation="реклама", meta=meta(SPECIALIST))
    CaseIndexProjector(app, app.index).catch_up()
    fake = KeyServiceFake(keys)
    later = datetime.now(UTC) + PERIOD + timedelta(days=1)
    assert asyncio.run(retention(app, keys, fake).scan(later)) == 0
    assert fake.orders == []


def test_retention_runs_only_with_sealing_on(app: CaseApplication, keys: Keys) -> None:
    settings = CaseSettings()
    assert settings.retention_after_close == PERIOD  # five years by default
    assert _retention(settings, app, None, None) is None  # sealing off: nothing to erase

    async def wired() -> None:
        channel = grpc.aio.insecure_channel("127.0.0.1:9")
        assert isinstance(_retention(settings, app, keys.personal_data(), channel), Retention)
        disabled = settings.model_copy(update={"retention_enabled": False})
        assert _retention(disabled, app, keys.personal_data(), channel) is None
        await channel.close()

    asyncio.run(wired())


class ErasingKeyService(key_service_pb2_grpc.KeyServiceServicer):
    """The key service's EraseCitizen as the case service sees it: one subject already erased."""

    def __init__(self) -> None:
        self.orders: list[tuple[pb.EraseCitizenRequest, dict[str, str]]] = []

    async def EraseCitizen(self, request: pb.EraseCitizenRequest, context: Any) -> Any:
        self.orders.append((request, dict(context.invocation_metadata())))
        return pb.EraseCitizenResponse(
            subjects=[
                pb.ErasedSubject(
                    derived_from="subject",
                    erased_by="system:case",
                    reason=request.reason,
                    already_erased=i == 0,
                )
                for i, _ in enumerate(request.subjects)
            ]
        )


def test_the_eraser_orders_erase_citizen_as_the_case_service_itself() -> None:
    subjects = ["00" * 16, "11" * 16, "22" * 16]

    async def ordered() -> tuple[int, ErasingKeyService]:
        service = ErasingKeyService()
        server = grpc.aio.server()
        key_service_pb2_grpc.add_KeyServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                erased = await key_service_eraser(channel)(subjects, reason_for(PERIOD))
        finally:
            await server.stop(None)
        return erased, service

    erased, service = asyncio.run(ordered())
    assert erased == 2  # the first was erased before
    [(request, metadata)] = service.orders
    assert list(request.subjects) == subjects
    assert request.reason == reason_for(PERIOD)
    assert "x-person-token" not in metadata  # no person: the system's retention


def test_the_retention_period_takes_the_auto_close_units() -> None:
    assert CaseSettings(retention_after_close="3650").retention_after_close == timedelta(days=3650)
    assert CaseSettings(retention_after_close="30s").retention_after_close == timedelta(seconds=30)
    assert len(reason_for(PERIOD)) <= 200 and "1826 days" in reason_for(PERIOD)
