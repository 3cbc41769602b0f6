"""People verified by a real Keycloak at the case service: a process on PostgreSQL speaking mutual
TLS, its callers known by their certificates, each person by the token Keycloak signed.

Acceptance of issue 16 for the case service: an L1 specialist's token takes, answers and readies
an L1 case with the events recording that specialist; the same token on an L3 case is
PERMISSION_DENIED, for a command and for a read (issue 17: "an L1 specialist cannot open an L3
case"); an expired token, one without the case service's audience and one signed by another key
are UNAUTHENTICATED; every read appears in the access journal, as an auditor reads it; the
journal stays one chain with replicas appending at once. The desk's live queue (WatchQueue) and
the supervisors' overview with Keycloak's tokens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from support.people import TestClients, as_person, case_oidc_env
from support.services import ServiceProcess

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_case.domain.access_journal import AccessEntry
from casedesk_case.testing import CaseApplication
from casedesk_runtime import pki

SYSTEM, CITIZEN, SPECIALIST = (
    types_pb2.Actor.SYSTEM,
    types_pb2.Actor.CITIZEN,
    types_pb2.Actor.SPECIALIST,
)
CALLERS = ["case", "intake", "escalation", "desk", "operator"]


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, CALLERS)
    return out


@pytest.fixture
def case_env(
    postgres_env: dict[str, str], postgres_dsn: str, pki_dir: Path, keycloak: Any
) -> Iterator[dict[str, str]]:
    """A case service on its own PostgreSQL schema, mutual TLS, Keycloak's casedesk realm."""
    schema = f"people_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield {
        **postgres_env,
        **case_oidc_env(keycloak),
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "CASEDESK_RELAY_ENABLED": "false",  # Kafka is not what this is about
        "CASEDESK_SHUTDOWN_GRACE_S": "1",
        # Keycloak and the service share this machine's clock; with the default 30 s, a token
        # that expired a second ago would still pass.
        "CASEDESK_OIDC_LEEWAY_S": "0",
        "CASEDESK_TLS_CERT_FILE": str(pki_dir / "case.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki_dir / "case.key"),
        "CASEDESK_TLS_CA_FILE": str(pki_dir / pki.CA_CERT),
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def case_service(services: Any, case_env: dict[str, str]) -> ServiceProcess:
    return services("casedesk_case", case_env)  # type: ignore[no-any-return]


class Callers:
    """The case service as each of its callers reaches it, by certificate."""

    def __init__(self, address: str, pki_dir: Path) -> None:
        self._address, self._pki = address, pki_dir
        self._channels: list[grpc.aio.Channel] = []

    def __call__(self, name: str) -> case_service_pb2_grpc.CaseServiceStub:
        credentials = pki.client_credentials(self._pki, name)
        channel = grpc.aio.secure_channel(self._address, credentials)
        self._channels.append(channel)
        return case_service_pb2_grpc.CaseServiceStub(channel)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


@pytest.fixture
async def callers(case_service: ServiceProcess, pki_dir: Path) -> AsyncIterator[Callers]:
    opened = Callers(case_service.address, pki_dir)
    yield opened
    await opened.close()


def command(kind: int | None = None, actor: str = "") -> pb.CommandContext:
    context = pb.CommandContext(idempotency_key=str(uuid.uuid4()))
    if kind is not None:
        context.actor.CopyFrom(types_pb2.Actor(kind=kind, id=actor))  # type: ignore[arg-type]
    return context


async def chat_case(callers: Callers, to_tier: int = types_pb2.L1) -> str:
    """A citizen's chat case as intake registers it, escalated by escalation up to `to_tier`."""
    created = await callers("intake").CreateCase(pb.CreateCaseRequest(
        context=command(CITIZEN, "ivanov.ii"),
        channel=types_pb2.PORTAL_CHAT, type=types_pb2.TECHNICAL,
        category=types_pb2.REGISTRATION_SIGN_IN,
        citizen=types_pb2.Citizen(account_login="ivanov.ii", mobile_phone="+79161234567"),
        content=types_pb2.CaseContent(subject="Не приходит СМС-код", description="Жду час"),
    ))  # fmt: skip
    for tier in range(types_pb2.L2, to_tier + 1):
        await callers("escalation").Escalate(pb.EscalateRequest(
            context=command(SYSTEM, "escalation"), case_id=created.case_id,
            to_tier=tier,  # type: ignore[arg-type]
        ))  # fmt: skip
    return created.case_id


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


async def test_an_l1_token_takes_answers_and_readies_an_l1_case_as_that_specialist(
    callers: Callers, keycloak: Any
) -> None:
    case_id, desk = await chat_case(callers), callers("desk")
    ivanova = as_person(keycloak, "l1.ivanova")
    await desk.ChangeStatus(
        pb.ChangeStatusRequest(context=command(), case_id=case_id, action=pb.TAKE_IN_WORK),
        metadata=ivanova,
    )
    await desk.AddComment(
        pb.AddCommentRequest(context=command(), case_id=case_id, public=True,
                             body="Код отправлен повторно, проверьте СМС"),
        metadata=ivanova,
    )  # fmt: skip
    ready = await desk.ChangeStatus(
        pb.ChangeStatusRequest(context=command(), case_id=case_id, action=pb.ANSWER_READY_ACTION),
        metadata=ivanova,
    )
    assert ready.status == types_pb2.ANSWER_READY
    history = await desk.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=ivanova)
    hers = [(e.WhichOneof("payload"), e.meta.actor.kind, e.meta.actor.id) for e in history.events]
    assert hers[-3:] == [
        ("status_changed", SPECIALIST, "l1.ivanova"),
        ("commented", SPECIALIST, "l1.ivanova"),
        ("status_changed", SPECIALIST, "l1.ivanova"),
    ]
    # Without the token the desk is nobody, whatever the request says.
    named = pb.ChangeStatusRequest(
        context=command(SPECIALIST, "l1.ivanova"), case_id=case_id, action=pb.CLOSE
    )
    error = await refused(desk.ChangeStatus(named))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_l1_token_on_an_l3_case_is_refused_with_the_rule(
    callers: Callers, keycloak: Any
) -> None:
    case_id, desk = await chat_case(callers, types_pb2.L3), callers("desk")
    take = pb.ChangeStatusRequest(context=command(), case_id=case_id, action=pb.TAKE_IN_WORK)
    error = await refused(desk.ChangeStatus(take, metadata=as_person(keycloak, "l1.ivanova")))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "l1.ivanova (L1) may not work an L3 case",
    )
    for read in (
        desk.GetCase(
            pb.GetCaseRequest(case_id=case_id), metadata=as_person(keycloak, "l1.ivanova")
        ),
        desk.GetHistory(
            pb.GetHistoryRequest(case_id=case_id), metadata=as_person(keycloak, "l2.petrov")
        ),
    ):
        error = await refused(read)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error.details().endswith("may not open an L3 case")
    taken = await desk.ChangeStatus(take, metadata=as_person(keycloak, "l3.sidorova"))
    assert taken.status == types_pb2.IN_PROGRESS


async def test_tokens_that_prove_nothing_are_unauthenticated(
    callers: Callers, keycloak: Any
) -> None:
    case_id, desk = await chat_case(callers), callers("desk")
    clients = TestClients(keycloak)
    genuine = keycloak.token("casedesk", "l1.ivanova")
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = {
        "expired": clients.expired_token("l1.ivanova"),
        "wrong audience": clients.token_without_audience("l1.ivanova"),
        # Keycloak's claims and key id, another key's signature.
        "bad signature": jwt.encode(claims, stranger, "RS256", headers={"kid": header["kid"]}),
        "unknown signing key": jwt.encode(claims, stranger, "RS256", headers={"kid": "stranger"}),
        "malformed": _tampered(genuine),
    }
    for reason, token in tokens.items():
        error = await refused(desk.GetCase(
            pb.GetCaseRequest(case_id=case_id), metadata=[("x-person-token", token)]
        ))  # fmt: skip
        assert (error.code(), error.details()) == (
            grpc.StatusCode.UNAUTHENTICATED,
            f"x-person-token rejected: {reason}",
        ), reason


async def test_every_read_is_in_the_journal_an_auditor_reads(
    callers: Callers, keycloak: Any, case_env: dict[str, str], postgres_dsn: str
) -> None:
    case_id = await chat_case(callers)
    desk, operator = callers("desk"), callers("operator")
    petrov = [*as_person(keycloak, "l2.petrov"), ("x-access-purpose", "citizen%20call")]
    view = await desk.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=petrov)
    await desk.GetCase(pb.GetCaseRequest(number=view.number), metadata=petrov)
    await desk.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=petrov)
    watch = desk.WatchCase(pb.WatchCaseRequest(case_id=case_id), metadata=petrov)
    assert (await watch.read()).meta.case_version == 1
    watch.cancel()
    orlova = as_person(keycloak, "super.orlova")
    await operator.GetCase(pb.GetCaseRequest(case_id=case_id), metadata=orlova)
    await _list_until_indexed(desk, case_id, as_person(keycloak, "l3.sidorova"))
    await callers("intake").GetCase(pb.GetCaseRequest(case_id=case_id))  # for the citizen

    auditor = as_person(keycloak, "audit.kuznetsov")
    page = await operator.ListAccessRecords(
        pb.ListAccessRecordsRequest(case_id=case_id), metadata=auditor
    )
    assert [(r.rpc, r.person, r.role, r.caller, r.purpose) for r in page.records] == [
        *[(rpc, "l2.petrov", "specialist L2", "desk", "citizen call")
          for rpc in ("GetCase", "GetCase", "GetHistory", "WatchCase")],
        ("GetCase", "super.orlova", "specialist L3, supervisor", "operator", "case work"),
        ("ListCases", "l3.sidorova", "specialist L3", "desk", "case work"),
    ]  # fmt: skip
    error = await refused(operator.ListAccessRecords(
        pb.ListAccessRecordsRequest(case_id=case_id), metadata=orlova
    ))  # fmt: skip
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED

    # PostgreSQL keeps the journal append-only, and the operator's check finds the chain whole.
    table = f"{case_env['POSTGRES_SCHEMA']}.case_access_journal"
    for statement in (f"UPDATE {table} SET person = 'x'", f"DELETE FROM {table}",
                      f"TRUNCATE {table}"):  # fmt: skip
        with (
            psycopg.connect(postgres_dsn, autocommit=True) as connection,
            pytest.raises(psycopg.errors.RaiseException, match="append-only"),
        ):
            connection.execute(statement)  # type: ignore[arg-type]
    checked = subprocess.run(
        [sys.executable, "-m", "casedesk_case.cli.verify_journal"],
        env={**os.environ, **case_env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"access journal intact: {len(page.records)} records")


async def test_the_desks_live_queue_and_the_supervisors_overview(
    callers: Callers, keycloak: Any
) -> None:
    desk = callers("desk")
    ivanova = as_person(keycloak, "l1.ivanova")
    stream = desk.WatchQueue(pb.WatchQueueRequest(), metadata=ivanova)
    # The stream starts "from now on": submit until a change reaches it (a case stored before the
    # service looked at the log for this stream is not one).
    first = asyncio.ensure_future(stream.read())
    case_ids: list[str] = []
    for _ in range(20):
        case_ids.append(await chat_case(callers))
        if (await asyncio.wait({first}, timeout=1))[0]:
            break
    change = first.result()
    assert change.summary.case_id in case_ids
    assert (change.event_type, change.summary.tier, change.summary.subject) == (
        "Created", types_pb2.L1, "Не приходит СМС-код",
    )  # fmt: skip
    stream.cancel()
    resumed = desk.WatchQueue(
        pb.WatchQueueRequest(after_position=change.position), metadata=ivanova
    )
    following = await asyncio.wait_for(resumed.read(), 10)
    assert (following.summary.case_id, following.event_type) == (
        change.summary.case_id, "Assigned",
    )  # fmt: skip
    resumed.cancel()
    orlova = as_person(keycloak, "super.orlova")
    for _ in range(50):  # the case index follows the store
        overview = await callers("operator").GetDeskOverview(
            pb.GetDeskOverviewRequest(days=7), metadata=orlova
        )
        sign_in = next(q for q in overview.queues if q.queue == "l1-sign-in")
        if sign_in.open >= len(case_ids):
            break
        await asyncio.sleep(0.1)
    assert (sign_in.tier, sign_in.unassigned) == (types_pb2.L1, sign_in.open)  # none taken
    assert sign_in.open >= len(case_ids) and len(overview.compliance) == 7
    error = await refused(desk.GetDeskOverview(pb.GetDeskOverviewRequest(), metadata=ivanova))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    auditor = as_person(keycloak, "audit.kuznetsov")
    page = await callers("operator").ListAccessRecords(
        pb.ListAccessRecordsRequest(case_id=change.summary.case_id, person="l1.ivanova"),
        metadata=auditor,
    )
    # Journaled before sent: at least the two changes she received, nothing else.
    assert {r.rpc for r in page.records} == {"WatchQueue"} and len(page.records) >= 2


async def _list_until_indexed(desk: Any, case_id: str, metadata: Any) -> None:
    """ListCases by the case's citizen until the case index has the case (a page without it
    records nothing: no case was read)."""
    for _ in range(100):
        found = await desk.ListCases(
            pb.ListCasesRequest(citizen_login="ivanov.ii", page_size=500), metadata=metadata
        )
        if [c.case_id for c in found.cases] == [case_id]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the case index never listed the case")


def _tampered(token: str) -> str:
    """The token with its payload swapped for another, unsigned: no longer a JWS of anything."""
    head, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "x"}).encode()).decode().rstrip("=")
    return ".".join((head, payload + "!", signature))


def test_replicas_appending_at_once_keep_one_unbroken_chain(
    postgres_env: dict[str, str], postgres_dsn: str
) -> None:
    """Two replicas' journals on one PostgreSQL schema, four threads appending at once."""
    schema = f"journal_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    env = {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    replicas = [CaseApplication(env=env) for _ in range(2)]
    try:

        def append(n: int) -> None:
            journal = replicas[n % 2].access_journal
            for i in range(25):
                at = datetime.now(UTC)
                journal.append([AccessEntry(at, f"p{n}", "auditor", str(uuid.uuid4()), "audit",
                                            "operator", "GetCase")] * (1 + i % 3))  # fmt: skip

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(append, range(4)))
        check = replicas[1].person_reads.verify_journal(batch=40)
        assert check.intact and check.records == 4 * sum(1 + i % 3 for i in range(25))
    finally:
        for replica in replicas:
            replica.close()
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def rotating_realm(keycloak: Any) -> Iterator[str]:
    """A private copy of the casedesk realm whose keys a test may rotate (the session's realm is
    shared), with one specialist."""
    from support.keycloak import REALMS_DIR

    name = f"casedesk-rotation-{uuid.uuid4().hex[:8]}"
    representation = json.loads((REALMS_DIR / "casedesk-realm.json").read_text())
    users = [user for user in representation["users"] if user["username"] == "l3.sidorova"]
    keycloak.admin.create_realm({**representation, "realm": name, "users": users})
    yield name
    keycloak.admin.delete_realm(name)


async def test_a_key_rotated_in_keycloak_is_picked_up_without_a_restart(
    services: Any, case_env: dict[str, str], pki_dir: Path, keycloak: Any, rotating_realm: str
) -> None:
    def token() -> str:
        return str(keycloak.token(rotating_realm, "l3.sidorova", client="casedesk-dev-tokens",
                                  client_secret="casedesk-dev-tokens-secret"))  # fmt: skip

    env = {**case_env, "CASEDESK_OIDC_ISSUER": keycloak.issuer(rotating_realm)}
    service = services("casedesk_case", env)
    callers = Callers(service.address, pki_dir)
    try:
        case_id = await chat_case(callers)
        desk = callers("desk")

        async def read(with_token: str) -> Any:
            request = pb.GetCaseRequest(case_id=case_id)
            return await desk.GetCase(request, metadata=[("x-person-token", with_token)])

        before = token()
        assert (await read(before)).case_id == case_id
        old_kid = jwt.get_unverified_header(before)["kid"]
        new_kid = keycloak.admin.rotate_signing_key(rotating_realm, retire="disabled")
        after = token()
        assert jwt.get_unverified_header(after)["kid"] == new_kid != old_kid
        # The service meets a kid it does not know and fetches the keys again (at most every
        # 10 s, so a spray of made-up kids cannot make it hammer the identity provider).
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                assert (await read(after)).case_id == case_id
                break
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(1)
        # The retired key is gone from the published set: its tokens prove nothing any more.
        stale = await refused(read(before))
        assert stale.code() == grpc.StatusCode.UNAUTHENTICATED
        assert service.running and service.pid is not None  # the same process throughout
    finally:
        await callers.close()
