"""Issue #18 acceptance on the whole system: personal data sealed in every store, erasure final.

The key service (its KEK in a mounted-Secret directory, its key store on SQLite), the case service
(CASEDESK_SEAL_PERSONAL_DATA on, two worker processes on PostgreSQL), intake (sealing on, its vault
and store in its data directory), sla, escalation and notify (with the key service) run as
`support/system.py` wires them, on the session's secured Kafka and PostgreSQL.

Citizens A and B each submit a case through intake with a file and add a comment; a specialist
answers both; the SMTP and SMS sinks receive the notices in clear. Then the raw bytes of every
store hold none of their SNILS, phones, e-mails, names or logins in clear: the broker's log
segment files (read inside its container), PostgreSQL's table files of the database (read inside
its container after a CHECKPOINT), every file the services wrote in their directories (SQLite
databases with their -wal files, the intake vault). The same search finds the case numbers and
ids in the same bytes, so the search itself works.

A erased at the key service: reading A's case answers FAILED_PRECONDITION (ERASED) within
seconds, on every call over fresh connections (each may reach either worker), B's case still
opens, a new upload for A through intake is refused ERASED, and the replay export of the case
topic still holds A's case. A may still write to support: a new case of his is sealed with a new
generation of his key and opens at the desk, while his old case stays erased.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pyarrow.parquet as pq
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support.endpoints import PostgresServer
from support.key_service import tls_env
from support.keycloak import Keycloak
from support.postgres_schemas import found_in
from support.provisioning import ADMIN, SecureKafka
from support.services import ServiceLauncher
from support.system import Casedesk, Record, read_topic, start_casedesk

from casedesk.case.v1 import case_service_pb2 as case_pb
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk.keys.v1 import key_service_pb2 as keys_pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk.notification.v1 import events_pb2 as journal_pb
from casedesk.sla.v1 import events_pb2 as sla_pb
from casedesk_runtime import pki
from casedesk_runtime.testing.sockets import ESTABLISHED, connections_by_worker, sockets_on

pytestmark = pytest.mark.integration

SPECIALIST = "l3.sidorova"  # a development user of Keycloak's casedesk realm (tier L3)
REPLAY = Path(sys.executable).with_name("casedesk-replay")
KAFKA_DATA = "/var/lib/kafka/data"  # log.dirs of tools/infra/images/kafka
WORKERS = 2


def snils() -> str:
    """A random SNILS with a valid check number, as `XXX-XXX-XXX YY`."""
    digits = [random.randrange(10) for _ in range(9)]
    total = sum(d * (9 - i) for i, d in enumerate(digits))
    check = total % 101 % 100
    body = "".join(map(str, digits))
    return f"{body[:3]}-{body[3:6]}-{body[6:]} {check:02d}"


@dataclass(frozen=True)
class Person:
    citizen: types_pb2.Citizen
    file: bytes

    @classmethod
    def new(cls, full_name: str) -> Person:
        tag = uuid.uuid4().hex[:6]
        login = f"pd.{tag}"
        citizen = types_pb2.Citizen(
            full_name=full_name, snils=snils(), account_login=login,
            mobile_phone=f"+7916{random.randrange(10**7):07d}", email=f"{login}@example.ru",
        )  # fmt: skip
        file = b"%PDF-1.7\n" + f"паспорт {full_name}, СНИЛС {citizen.snils}".encode()
        return cls(citizen, file + os.urandom(256))

    @property
    def snils_digits(self) -> str:
        return "".join(ch for ch in self.citizen.snils if ch.isdigit())

    @property
    def login(self) -> str:
        return self.citizen.account_login

    def needles(self) -> list[str]:
        """What no store may hold in clear: each identifier as given and in its bare digits."""
        c = self.citizen
        digits = "".join(ch for ch in c.snils if ch.isdigit())
        surname, *given = c.full_name.split()
        return [
            c.full_name, surname, " ".join(given), c.snils, digits, c.snils.replace("-", ""),
            c.mobile_phone, c.mobile_phone[1:], c.mobile_phone[2:], c.email, c.account_login,
        ]  # fmt: skip

    def submission(self) -> intake_pb.SubmitCaseRequest:
        c = self.citizen
        return intake_pb.SubmitCaseRequest(
            idempotency_key=str(uuid.uuid4()),
            channel=types_pb2.PORTAL_CHAT,
            citizen=c,
            content=types_pb2.CaseContent(
                subject="Не приходит СМС-код",
                description=f"{c.full_name}, телефон {c.mobile_phone}, код не приходит",
            ),
            provenance=types_pb2.Provenance(
                chat=types_pb2.ChatOrigin(session_id=f"chat-{uuid.uuid4().hex[:8]}")
            ),
            attachments=[upload(self.file, "паспорт.pdf")],
        )

    def comment(self, number: str) -> intake_pb.AddCommentRequest:
        c = self.citizen
        return intake_pb.AddCommentRequest(
            idempotency_key=str(uuid.uuid4()), case_number=number,
            body=f"Мой СНИЛС {c.snils}, почта {c.email}",
        )  # fmt: skip


def upload(content: bytes, name: str) -> intake_pb.AttachmentUpload:
    return intake_pb.AttachmentUpload(
        file_name=name, media_type="application/pdf", content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )  # fmt: skip


def container_bytes(container: str, pattern: str) -> bytes:
    """The concatenated raw bytes of the files matching `pattern` inside a running container."""
    done = subprocess.run(
        ["docker", "exec", container, "sh", "-c", f"cat {pattern}"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{container}: cat {pattern}: {done.stderr.decode()[-500:]}"
    assert done.stdout, f"{container}: {pattern} is empty"
    return done.stdout


def kafka_segments(kafka: SecureKafka, prefix: str) -> bytes:
    """Every log segment file of the system's private topics, as the broker wrote it."""
    container = f"casedesk-it-secure-kafka-{kafka.bootstrap.rsplit(':', 1)[1]}"
    return container_bytes(container, f"{KAFKA_DATA}/{prefix}*/*.log")


def postgres_files(server: PostgresServer, dsn: str) -> bytes:
    """Every file of the database's directory (tables, indexes, TOAST) after a CHECKPOINT."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        row = connection.execute(
            "SELECT current_setting('data_directory'), oid FROM pg_database"
            " WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    data_directory, oid = row
    return container_bytes(f"casedesk-it-postgres-{server.port}", f"{data_directory}/base/{oid}/*")


def local_files(directory: Path) -> dict[str, bytes]:
    """Every file the services wrote in the system's directory: SQLite databases and their -wal
    and -journal files, the intake vault, the key store (not logs, certificates or the KEK)."""
    skipped = {"logs", "pki", "kek"}
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not skipped & set(path.relative_to(directory).parts)
        and path.suffix not in (".key", ".yaml", ".yml", ".json")
    }  # fmt: skip


def violation_type(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None and status.details, f"no details: {error.details()}"
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(failure)
    return failure.violations[0].type


async def refused(call: Callable[[], Awaitable[Any]], within_s: float) -> grpc.aio.AioRpcError:
    """The error `call` answers within `within_s`, retried while it still succeeds."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            return error
        assert time.monotonic() < deadline, f"still answered after {within_s:g} s"
        await asyncio.sleep(0.2)


async def until(condition: Callable[[], bool], what: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {within_s:g} s"
        await asyncio.sleep(0.2)


def start_key_service(services: ServiceLauncher, directory: Path, pki_dir: Path) -> str:
    kek = directory / "keys" / "kek"
    kek.mkdir(parents=True)
    index_key = directory / "keys" / "index.key"
    index_key.write_text(base64.b64encode(os.urandom(32)).decode())
    keys = services(
        "casedesk_keyservice",
        {
            "CASEDESK_KEYS_KEK_PROVIDER": "secret-file",
            "CASEDESK_KEYS_KEK_DIR": str(kek),
            "CASEDESK_KEYS_KEK_CREATE": "true",
            "CASEDESK_KEYS_STORE_URL": str(directory / "keys" / "keys.sqlite3"),
            "CASEDESK_KEYS_INDEX_KEY_FILE": str(index_key),
            "CASEDESK_KEYS_ERASURE_POLL_S": "0.5",
            **tls_env(pki_dir, "keys"),
            "CASEDESK_METRICS_PORT": "0",
        },
        timeout=60,
    )
    return keys.address


def replay_export(kafka: SecureKafka, prefix: str, out: Path) -> list[dict[str, Any]]:
    """`casedesk-replay export` of the system's case topic: the rows of its cases table."""
    done = subprocess.run(
        [str(REPLAY), "export", "--out", str(out), "--tables", "cases", "--streams", "case",
         "--topic-prefix", prefix, "--no-progress"],
        env={**os.environ, **kafka.service_env(ADMIN)}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return pq.read_table(out / "cases.parquet").to_pylist()


async def test_personal_data_is_sealed_in_every_store_and_an_erased_citizen_stays_erased(
    secure_kafka: SecureKafka,
    keycloak: Keycloak,
    postgres_server: PostgresServer,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    services: ServiceLauncher,
    tmp_path: Path,
) -> None:
    directory = tmp_path / "casedesk"
    directory.mkdir()
    # The system's PKI, completed by start_casedesk, with the key service's identity in it.
    pki_dir = directory / "pki"
    pki.ensure_pki(pki_dir, ["keys", "case", "intake", "notify"])
    keys_address = start_key_service(services, directory, pki_dir)
    index_key = {"CASEDESK_KEYS_INDEX_KEY_FILE": str(directory / "keys" / "index.key")}
    sealing = {
        **index_key,
        "CASEDESK_SEAL_PERSONAL_DATA": "true",
        "CASEDESK_KEY_SERVICE_ADDRESS": keys_address,
    }
    settings = {
        "case": {**sealing, "CASEDESK_WORKERS": str(WORKERS)},
        "intake": sealing,
        "notify": {"CASEDESK_KEY_SERVICE_ADDRESS": keys_address},
    }
    a = Person.new("Зарубина Олеся Тимуровна")
    b = Person.new("Кондратьев Глеб Арсеньевич")
    async with (
        start_casedesk(
            secure_kafka,
            postgres_env,
            postgres_dsn,
            directory,
            keycloak=keycloak,
            settings=settings,
        ) as system,
        system.channel("intake", caller="frontend") as portal_channel,
        system.channel("case", caller="desk", person=SPECIALIST) as desk_channel,
    ):
        portal = intake_grpc.IntakeServiceStub(portal_channel)
        desk = case_grpc.CaseServiceStub(desk_channel)
        numbers: dict[str, str] = {}
        case_ids: dict[str, str] = {}
        for person in (a, b):
            as_citizen = system.frontend.acting_for(person.login)
            ack = await portal.SubmitCase(person.submission(), metadata=as_citizen)
            await portal.AddComment(person.comment(ack.number), metadata=as_citizen)
            numbers[person.login], case_ids[person.login] = ack.number, ack.case_id
            await answer(desk, ack.case_id, f"{person.citizen.full_name}, код отправлен.")
        # The desk reads them in clear.
        view = await desk.GetCase(case_pb.GetCaseRequest(case_id=case_ids[a.login]))
        assert view.citizen.snils == a.snils_digits  # intake keeps the digits
        assert view.comments[-1].body.startswith(a.citizen.full_name)

        # «Ответ готов» reached both at their own address and phone (the sinks hold them in clear).
        await until(
            lambda: all(notices(system, p, numbers[p.login]) for p in (a, b)), "both answers"
        )
        await settled(system, list(case_ids.values()))

        # Nothing of either in clear in any store; the same search finds the clear values.
        personal = a.needles() + b.needles()
        numbers_list, ids_list = list(numbers.values()), list(case_ids.values())
        segments = await asyncio.to_thread(kafka_segments, secure_kafka, system.topics.prefix)
        assert found_in(segments, numbers_list) == numbers_list
        assert found_in(segments, personal) == [], "in Kafka's log segments"
        tables = await asyncio.to_thread(postgres_files, postgres_server, postgres_dsn)
        assert found_in(tables, numbers_list) == numbers_list
        assert found_in(tables, personal) == [], "in PostgreSQL's table files"
        files = local_files(directory)
        for expected in ("sla.sqlite3", "escalation.sqlite", "notify.sqlite3"):
            assert expected in files, f"{expected} missing: {sorted(files)}"
        assert any(name.startswith("keys/keys.sqlite3") for name in files)
        vault = [v for name, v in files.items() if "/attachments/" in f"/{name}"]
        assert len(vault) >= 2, f"no vault files among {sorted(files)}"
        assert all(a.file not in v and b.file not in v for v in vault)
        local = b"\n".join(files.values())
        assert found_in(local, ids_list) == ids_list
        leaks = {name: found_in(blob, personal) for name, blob in files.items()}
        assert {name: found for name, found in leaks.items() if found} == {}

        # A erased at the key service (the case service's identity: the system's erasure).
        async with grpc.aio.secure_channel(
            keys_address, pki.client_credentials(pki_dir, "case")
        ) as keys_channel:
            await key_service_pb2_grpc.KeyServiceStub(keys_channel).EraseCitizen(
                keys_pb.EraseCitizenRequest(
                    identifiers=keys_pb.CitizenIdentifiers(login=a.login),
                    reason="test-erasure-system",
                )
            )
        read_a = case_pb.GetCaseRequest(case_id=case_ids[a.login])
        read_b = case_pb.GetCaseRequest(case_id=case_ids[b.login])
        refusal = await refused(lambda: desk.GetCase(read_a), within_s=15)
        assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION, refusal.details()
        assert violation_type(refusal) == "ERASED"
        assert (await desk.GetCase(read_b)).citizen.email == b.citizen.email

        # No worker keeps decrypting A: fresh connections until each worker served some, and
        # every one refuses A's case and opens B's.
        served = await every_worker_refuses(system, read_a, read_b, b.snils_digits)
        assert len(served) == WORKERS and min(served.values()) >= 2, served

        # A new upload for A is refused.
        more = intake_pb.AddCommentRequest(
            idempotency_key=str(uuid.uuid4()), case_number=numbers[a.login],
            body="Ещё файл", attachments=[upload(b"%PDF-1.7 more", "ещё.pdf")],
        )  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as upload_refused:
            await portal.AddComment(more, metadata=system.frontend.acting_for(a.login))
        assert upload_refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert violation_type(upload_refused.value) == "ERASED"

        # The analysts' replay still counts A's case.
        rows = await asyncio.to_thread(
            replay_export, secure_kafka, system.topics.prefix, tmp_path / "replay"
        )
        assert {r["case_id"] for r in rows} == set(ids_list)

        # A writes to support again: erased is not shut out. His new case is sealed with a new
        # generation of his key (intake has the key service reopen him) and reads in clear at
        # the desk; his old case stays erased.
        again = await portal.SubmitCase(
            a.submission(), metadata=system.frontend.acting_for(a.login)
        )
        fresh = await desk.GetCase(case_pb.GetCaseRequest(case_id=again.case_id))
        assert (fresh.citizen.snils, fresh.citizen.email) == (a.snils_digits, a.citizen.email)
        refusal = await refused(lambda: desk.GetCase(read_a), within_s=5)
        assert violation_type(refusal) == "ERASED"


async def answer(desk: case_grpc.CaseServiceStub, case_id: str, body: str) -> None:
    """The specialist takes the case, answers it publicly and marks the answer ready."""

    def context() -> case_pb.CommandContext:
        return case_pb.CommandContext(idempotency_key=str(uuid.uuid4()))

    await desk.ChangeStatus(
        case_pb.ChangeStatusRequest(context=context(), case_id=case_id, action=case_pb.TAKE_IN_WORK)
    )
    await desk.AddComment(
        case_pb.AddCommentRequest(context=context(), case_id=case_id, body=body, public=True)
    )
    await desk.ChangeStatus(
        case_pb.ChangeStatusRequest(
            context=context(), case_id=case_id, action=case_pb.ANSWER_READY_ACTION
        )
    )


async def every_worker_refuses(
    system: Casedesk,
    erased: case_pb.GetCaseRequest,
    kept: case_pb.GetCaseRequest,
    kept_snils: str,
) -> Counter[int]:
    """Fresh connections to the case service (the kernel hands each to a worker at random), each
    asked for the erased case and the kept one, until every worker served two; {worker: served}."""
    supervisor, port = system.case.pid, int(system.case.address.rsplit(":", 1)[1])
    assert supervisor is not None
    served: Counter[int] = Counter()
    options = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own
    for _ in range(40):
        before = set(sockets_on(port, ESTABLISHED))
        async with system.channel(
            "case", caller="desk", person=SPECIALIST, options=options
        ) as fresh:
            await asyncio.wait_for(fresh.channel_ready(), 10)
            new = set(sockets_on(port, ESTABLISHED)) - before
            owners = [pid for pid, held in connections_by_worker(supervisor, port).items()
                      if held & new]  # fmt: skip
            stub = case_grpc.CaseServiceStub(fresh)
            with pytest.raises(grpc.aio.AioRpcError) as refusal:
                await stub.GetCase(erased)
            assert refusal.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert violation_type(refusal.value) == "ERASED"
            assert (await stub.GetCase(kept)).citizen.snils == kept_snils
        if len(owners) == 1:
            served[owners[0]] += 1
        if len(served) == WORKERS and min(served.values()) >= 2:
            break
    return served


def notices(system: Casedesk, person: Person, number: str) -> bool:
    """«Ответ готов» reached the citizen by e-mail and by SMS, to his address and phone in clear
    (a portal citizen reads the answer's text on the portal)."""
    ready = "«Ответ готов»"
    mails = [m for m in system.smtp.snapshot() if m.recipients == (person.citizen.email,)]
    texts = [s for s in system.sms.accepted if s.fields.get("to") == person.citizen.mobile_phone]
    return any(ready in m.body("plain") and number in m.body("plain") for m in mails) and any(
        ready in s.fields["text"] and number in s.fields["text"] for s in texts
    )


async def settled(system: Casedesk, case_ids: list[str]) -> None:
    """Until notify's journal holds two Sent entries per case (its store wrote the deliveries
    before the search looks at them) and sla started each case's clocks."""

    def sent(records: list[Record[journal_pb.NotificationEvent]]) -> bool:
        per_case = Counter(
            r.event.meta.case_id for r in records if r.event.WhichOneof("payload") == "sent"
        )
        return all(per_case[case_id] >= 2 for case_id in case_ids)

    await read_topic(
        system.kafka, system.topics.notification, journal_pb.NotificationEvent.FromString,
        set(case_ids), sent, timeout_s=30,
    )  # fmt: skip
    await read_topic(
        system.kafka, system.topics.sla, sla_pb.SlaEvent.FromString, set(case_ids),
        lambda records: {r.event.meta.case_id for r in records} >= set(case_ids), timeout_s=30,
    )  # fmt: skip
