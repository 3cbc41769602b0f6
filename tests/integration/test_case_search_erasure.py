"""An erased citizen's search terms leave the case index within seconds (issue #18: search without
plaintext, erasure everywhere), as the case service runs: a real key service (its KEK in a
SoftHSM2 token, its key store and erasure journal on PostgreSQL), two replicas of the case
service with sealing on sharing one PostgreSQL schema, mutual TLS between them and the test's
client (as intake).

Citizens A, B and C have cases, found by SNILS, phone and e-mail. A is erased while both
replicas run: within seconds no lookup finds his cases and `case_search_terms` holds no row of
theirs, while B's lookups still work. C is erased while the case service is down: the replica
started again deletes his terms from where the index's erasure journal position left off. The
rebuild tool (`casedesk_case.cli.rebuild_index`) with sealing on opens the citizens through the
key service: the rebuilt index holds exactly B's terms as the projector made them, none of A's
or C's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc
import psycopg
from support.sealing import email_case, sealing_case_env, start_key_service
from support.services import ServiceLauncher
from test_case_sealing import CITIZEN_A, CITIZEN_B, schemas  # noqa: F401 - fixture

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application import CommandMeta
from casedesk_case.application.search_terms import SearchTerms
from casedesk_case.application.views import CaseFilter, ErasedKey
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
from casedesk_keys import IndexKey, Subjects
from casedesk_keys.normalise import IdentifierKind
from casedesk_runtime import pki

TOKEN_LABEL = "casedesk-search-erasure-it"
PROMPTLY_S = 10.0  # the erasure stream delivers within CASEDESK_KEYS_ERASURE_POLL_S (0.5 s here)

# Citizens A and B are test_case_sealing.py's; C is erased while the case service is down.
CITIZEN_C = types_pb2.Citizen(
    full_name="Сидоров Семён Петрович", snils="200-333-444 00", account_login="sidorov.sp",
    mobile_phone="+79261112233", email="sidorov@example.ru",
)  # fmt: skip


def lookups(citizen: types_pb2.Citizen) -> list[pb.CitizenLookup]:
    """The citizen's identifiers, spelled otherwise than he gave them."""
    return [
        pb.CitizenLookup(
            kind=pb.CITIZEN_ID_SNILS, value="".join(filter(str.isdigit, citizen.snils))
        ),
        pb.CitizenLookup(kind=pb.CITIZEN_ID_PHONE, value="8" + citizen.mobile_phone[2:]),
        pb.CitizenLookup(kind=pb.CITIZEN_ID_EMAIL, value=citizen.email.upper()),
    ]


def create_request(citizen: types_pb2.Citizen) -> pb.CreateCaseRequest:
    return email_case(
        citizen,
        correlation_id="corr-search-erasure",
        subject="Не могу войти",
        description="Не приходит код",
    )


async def found(
    stub: case_service_pb2_grpc.CaseServiceStub, citizen: types_pb2.Citizen
) -> list[list[str]]:
    """The cases each of the citizen's lookups finds."""
    pages = [await stub.ListCases(pb.ListCasesRequest(citizen=c)) for c in lookups(citizen)]
    return [sorted(case.case_id for case in page.cases) for page in pages]


async def until_found(
    stub: case_service_pb2_grpc.CaseServiceStub,
    citizen: types_pb2.Citizen,
    expected: list[str],
    timeout_s: float = PROMPTLY_S,
) -> float:
    """Seconds until every lookup of the citizen finds exactly `expected`."""
    started = time.monotonic()
    want = [sorted(expected)] * 3
    while (seen := await found(stub, citizen)) != want:
        assert time.monotonic() - started < timeout_s, f"after {timeout_s} s: {seen} != {want}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def term_rows(postgres_dsn: str, schema: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        return [
            tuple(row)
            for row in connection.execute(
                "SELECT term, case_id, kind, subject, generation "
                f"FROM {schema}.case_search_terms ORDER BY case_id, kind"
            )
        ]


async def test_an_erased_citizens_search_terms_leave_the_index_promptly_on_restart_and_rebuild(
    services: ServiceLauncher,
    schemas: tuple[str, str],  # noqa: F811
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    case_schema, keys_schema = schemas
    keys = start_key_service(
        services, postgres_dsn, keys_schema, tmp_path, token_label=TOKEN_LABEL,
        certificates=["keys", "case", "intake"],
        settings={"CASEDESK_KEYS_ERASURE_POLL_S": "0.5"},
    )  # fmt: skip
    pki_dir = keys.pki_dir
    case_env = sealing_case_env(
        keys, postgres_env, case_schema,
        {
            # No Kafka here: the relay and the timeline's consumer are not what this is about.
            "CASEDESK_RELAY_ENABLED": "false",
            "CASEDESK_RETENTION_ENABLED": "false",
            "CASEDESK_WORKERS": "1",
        },
    )  # fmt: skip
    # Two replicas: the index projector runs in the one holding its lease, the erased terms'
    # follower in both (deleting twice is harmless).
    first = services("casedesk_case", case_env)
    second = services("casedesk_case", case_env)
    intake = pki.client_credentials(pki_dir, "intake")

    async def erase(citizen: types_pb2.Citizen, reason: str) -> None:
        # The case service's own identity: the system's erasure, as its retention job does.
        async with grpc.aio.secure_channel(
            keys.address, pki.client_credentials(pki_dir, "case")
        ) as channel:
            reply = await key_service_pb2_grpc.KeyServiceStub(channel).EraseCitizen(
                keys_pb.EraseCitizenRequest(
                    identifiers=keys_pb.CitizenIdentifiers(login=citizen.account_login),
                    reason=reason,
                )
            )
        assert [s.already_erased for s in reply.subjects] == [False]

    async with (
        grpc.aio.secure_channel(first.address, intake) as to_first,
        grpc.aio.secure_channel(second.address, intake) as to_second,
    ):
        one = case_service_pb2_grpc.CaseServiceStub(to_first)
        two = case_service_pb2_grpc.CaseServiceStub(to_second)
        a_cases = [(await one.CreateCase(create_request(CITIZEN_A))).case_id for _ in range(2)]
        b_case = (await two.CreateCase(create_request(CITIZEN_B))).case_id
        c_case = (await one.CreateCase(create_request(CITIZEN_C))).case_id
        await until_found(two, CITIZEN_A, a_cases)
        await until_found(one, CITIZEN_B, [b_case])
        await until_found(two, CITIZEN_C, [c_case])
        made = term_rows(postgres_dsn, case_schema)
        assert sorted({row[1] for row in made}) == sorted([*a_cases, b_case, c_case])
        assert len(made) == 12  # SNILS, phone and e-mail of four cases
        b_rows = [row for row in made if row[1] == b_case]

        # A erased while both replicas run: gone within seconds, through either replica.
        await erase(CITIZEN_A, "test-search-erasure-a")
        waited = await until_found(one, CITIZEN_A, [])
        await until_found(two, CITIZEN_A, [])
        assert waited < PROMPTLY_S
        rows = term_rows(postgres_dsn, case_schema)
        assert not {row[1] for row in rows} & set(a_cases)
        assert sorted(rows) == sorted(r for r in made if r[1] not in a_cases)
        await until_found(two, CITIZEN_B, [b_case], timeout_s=0)
        await until_found(one, CITIZEN_C, [c_case], timeout_s=0)

    # C erased while the case service is down: nobody deletes his terms meanwhile...
    first.terminate()
    second.terminate()
    await erase(CITIZEN_C, "test-search-erasure-c")
    assert {row[1] for row in term_rows(postgres_dsn, case_schema)} == {b_case, c_case}
    # ...until a replica starts again and reads the erasures after its index's position.
    first.start()
    async with grpc.aio.secure_channel(first.address, intake) as to_first:
        one = case_service_pb2_grpc.CaseServiceStub(to_first)
        await until_found(one, CITIZEN_C, [])
        await until_found(one, CITIZEN_B, [b_case], timeout_s=0)
        await until_found(one, CITIZEN_A, [], timeout_s=0)
    assert term_rows(postgres_dsn, case_schema) == b_rows

    # The rebuild tool with sealing on, the service stopped: B's terms as the projector made
    # them, none for the erased A and C.
    first.terminate()
    rebuilt = subprocess.run(
        [sys.executable, "-m", "casedesk_case.cli.rebuild_index"],
        env={**os.environ, **case_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "case index rebuilt from" in rebuilt.stdout
    assert term_rows(postgres_dsn, case_schema) == b_rows
    first.start()
    async with grpc.aio.secure_channel(first.address, intake) as to_first:
        one = case_service_pb2_grpc.CaseServiceStub(to_first)
        await until_found(one, CITIZEN_B, [b_case], timeout_s=0)
        await until_found(one, CITIZEN_A, [], timeout_s=0)
        await until_found(one, CITIZEN_C, [], timeout_s=0)
        # The rows themselves are still listed (the cases exist, non-personal parts intact).
        listed = await one.ListCases(pb.ListCasesRequest())
        assert {*a_cases, b_case, c_case} <= {case.case_id for case in listed.cases}


def test_on_postgresql_a_projector_waits_for_an_erasure_being_remembered_and_adds_none_of_its_terms(
    postgres_env: dict[str, str], postgres_dsn: str
) -> None:
    schema = f"case_sguard_{uuid.uuid4().hex[:10]}"
    env = {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    index_key = IndexKey(os.urandom(32))
    system = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))
    ivanov = Citizen(
        full_name="Иванов Иван", snils="11223344595", account_login="ivanov.ii",
        mobile_phone="+79161234567", email="ivanov@example.ru",
    )  # fmt: skip
    petrov = Citizen(account_login="petrov.pp", mobile_phone="+79035550011")
    # In clear: his terms name his login's subject, generation 0, which any erasure covers.
    subject = str(Subjects(index_key).of_identifier(IdentifierKind.LOGIN, "ivanov.ii"))

    def create(app: CaseApplication, citizen: Citizen) -> str:
        return app.create_case(
            channel=Channel.EMAIL, case_type=CaseType.TECHNICAL, category=Category.OTHER,
            citizen=citizen, content=CaseContent(subject="Не могу войти"), meta=system,
        ).case_id  # fmt: skip

    def by_phone(app: CaseApplication, phone: str) -> list[str]:
        found = app.list_cases(CaseFilter(citizen_kind="PHONE", citizen_value=phone))
        return [c.case_id for c in found.cases]

    try:
        app = CaseApplication(env=env, search_terms=SearchTerms(index_key))
        try:
            create(app, ivanov)
            theirs = create(app, petrov)
            # An erasure being remembered by another replica, not committed yet.
            with psycopg.connect(postgres_dsn) as eraser:
                eraser.execute(
                    f"INSERT INTO {schema}.case_erased_keys (subject, generation, position) "
                    "VALUES (%s, 1, 5)",
                    (subject,),
                )
                projecting = threading.Thread(target=CaseIndexProjector(app, app.index).catch_up)
                projecting.start()
                projecting.join(1.0)
                assert projecting.is_alive(), "the projector added terms beside the erasure"
                eraser.commit()
            projecting.join(30)
            assert not projecting.is_alive()
            assert by_phone(app, "8 916 123-45-67") == []
            assert by_phone(app, "8 903 555-00-11") == [theirs]
            assert app.index.erasure_position() == 5
        finally:
            app.close()

        # An index whose terms named no key: the columns come at the start, its rows name none.
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            connection.execute(f"DELETE FROM {schema}.case_erased_keys")
            connection.execute(f"DROP INDEX {schema}.case_search_terms_subject")
            for column in ("subject", "generation"):
                connection.execute(f"ALTER TABLE {schema}.case_search_terms DROP COLUMN {column}")
        app = CaseApplication(env=env, search_terms=SearchTerms(index_key))
        try:
            mine = create(app, ivanov)
            CaseIndexProjector(app, app.index).catch_up()
            assert by_phone(app, "+79161234567") == [mine]
            # Petrov's rows, made before, name no key: his erasure leaves them to a rebuild.
            others = str(Subjects(index_key).of_identifier(IdentifierKind.LOGIN, "petrov.pp"))
            assert app.index.forget_erased([ErasedKey(others, 1, 6)]) == 0
            assert by_phone(app, "+79035550011") == [theirs]
            # The new case's three name Ivanov's.
            assert app.index.forget_erased([ErasedKey(subject, 1, 7)]) == 3
            assert by_phone(app, "+79161234567") == []
        finally:
            app.close()
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
