"""The case service with CASEDESK_SEAL_PERSONAL_DATA on, as it runs (issue #18): a real key service
(its KEK in a SoftHSM2 token, its key store on PostgreSQL), the case service on PostgreSQL
publishing to Kafka, mutual TLS between them and the test's client (as intake).

Two citizens' cases go through the case service; the raw records of case.events.v1 and every row
of the case service's PostgreSQL schema (events, snapshots, case index, receipts) hold none of
their names, SNILS, phones, e-mails or logins, while the case service's replies open them. One
citizen erased at the key service: his case answers FAILED_PRECONDITION (ERASED) within seconds,
the other citizen's still opens.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support.postgres_schemas import found_in, fresh_schemas, schema_rows
from support.sealing import email_case, sealing_case_env, start_key_service
from support.services import ServiceLauncher

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_runtime import pki
from casedesk_runtime.topics import ensure_topics

TOPIC = "case.events.v1"
TOKEN_LABEL = "casedesk-sealing-it"

CITIZEN_A = types_pb2.Citizen(
    full_name="Иванов Иван Иванович", snils="112-233-445 95", account_login="ivanov.ii",
    mobile_phone="+79161234567", email="ivan.ivanov@example.ru",
)  # fmt: skip
CITIZEN_B = types_pb2.Citizen(
    full_name="Петрова Анна Сергеевна", snils="12345678964", account_login="petrova.aa",
    mobile_phone="+79035556677", email="anna.petrova@example.ru",
)  # fmt: skip


def needles(citizen: types_pb2.Citizen) -> list[str]:
    """What must not be found in any store: each identifier as sent and in its bare digits."""
    digits = "".join(c for c in citizen.snils if c.isdigit())
    return [
        citizen.full_name, citizen.full_name.split()[0], citizen.snils, digits,
        citizen.mobile_phone, citizen.mobile_phone[2:], citizen.email, citizen.account_login,
    ]  # fmt: skip


@pytest.fixture
def schemas(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    """Two fresh schemas: the case service's and the key service's."""
    with fresh_schemas(postgres_dsn, "case_seal", "keys_seal") as (case_schema, keys_schema):
        yield case_schema, keys_schema


def create_request(citizen: types_pb2.Citizen) -> pb.CreateCaseRequest:
    return email_case(
        citizen,
        correlation_id="corr-sealing",
        subject=f"Не могу войти: {citizen.full_name}",
        description=f"Звоните {citizen.mobile_phone}",
    )


def citizen_comment(case_id: str, citizen: types_pb2.Citizen) -> pb.AddCommentRequest:
    return pb.AddCommentRequest(
        context=pb.CommandContext(
            idempotency_key=str(uuid.uuid4()),
            actor=types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id=citizen.account_login),
        ),
        case_id=case_id,
        body=f"Мой СНИЛС {citizen.snils}, почта {citizen.email}",
        public=True,
    )


async def raw_records(bootstrap: str, case_ids: set[str], expected: int) -> list[bytes]:
    """The raw bytes (key, value, headers) of the cases' records on case.events.v1."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if events_pb2.CaseEvent.FromString(record.value).meta.case_id in case_ids:
                        headers = b"".join(k.encode() + v for k, v in record.headers)
                        found.append((record.key or b"") + record.value + headers)
    finally:
        await consumer.stop()
    return found


async def test_sealed_cases_leave_no_personal_data_in_kafka_or_postgres(
    services: ServiceLauncher,
    schemas: tuple[str, str],
    postgres_env: dict[str, str],
    postgres_dsn: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    case_schema, keys_schema = schemas
    await ensure_topics(kafka_bootstrap)
    keys = start_key_service(
        services, postgres_dsn, keys_schema, tmp_path, token_label=TOKEN_LABEL,
        certificates=["keys", "case", "intake"],
        settings={"CASEDESK_KEYS_ERASURE_POLL_S": "0.5"},
    )  # fmt: skip
    case = services(
        "casedesk_case",
        sealing_case_env(
            keys, postgres_env, case_schema, {"CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
        ),
    )
    pki_dir = keys.pki_dir
    async with (
        grpc.aio.secure_channel(case.address, pki.client_credentials(pki_dir, "intake")) as intake,
        grpc.aio.secure_channel(keys.address, pki.client_credentials(pki_dir, "case")) as as_case,
    ):
        stub = case_service_pb2_grpc.CaseServiceStub(intake)
        created_a = await stub.CreateCase(create_request(CITIZEN_A))
        created_b = await stub.CreateCase(create_request(CITIZEN_B))
        await stub.AddComment(citizen_comment(created_a.case_id, CITIZEN_A))
        await stub.AddComment(citizen_comment(created_b.case_id, CITIZEN_B))
        # The replies to an authorised caller are opened.
        read_a = await stub.GetCase(pb.GetCaseRequest(case_id=created_a.case_id))
        assert read_a.citizen == CITIZEN_A
        assert read_a.provenance.email.from_address == CITIZEN_A.email
        assert [c.body for c in read_a.comments] == [
            f"Мой СНИЛС {CITIZEN_A.snils}, почта {CITIZEN_A.email}"
        ]

        # Created, Assigned, Commented per case, at least.
        ids = {created_a.case_id, created_b.case_id}
        records = await raw_records(kafka_bootstrap, ids, expected=6)
        assert len(records) >= 6, f"only {len(records)} records of the two cases on {TOPIC}"
        published = b"\n".join(records)
        personal = needles(CITIZEN_A) + needles(CITIZEN_B)
        # What is not personal is found where it is (the search works), tokens in place of
        # the rest.
        clear = [created_a.number, created_b.number, "cdk1."]
        assert found_in(published, clear) == clear
        assert found_in(published, personal) == []
        stored = schema_rows(postgres_dsn, case_schema)
        assert found_in(stored, clear) == clear
        assert found_in(stored, personal) == []

        # Citizen A erased at the key service (the case service's own identity: the system's
        # erasure, as its retention job does): his case is refused within seconds, B's opens.
        erase = key_service_pb2_grpc.KeyServiceStub(as_case).EraseCitizen
        await erase(
            keys_pb.EraseCitizenRequest(
                identifiers=keys_pb.CitizenIdentifiers(login=CITIZEN_A.account_login),
                reason="test-erasure-1",
            )
        )
        refusal: Any = None
        deadline = time.monotonic() + 15
        while refusal is None and time.monotonic() < deadline:
            try:
                await stub.GetCase(pb.GetCaseRequest(case_id=created_a.case_id))
                await asyncio.sleep(0.2)
            except grpc.aio.AioRpcError as error:
                refusal = error
        assert refusal is not None, "the erased citizen's case still opened after 15 s"
        assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "was erased at" in (refusal.details() or "")
        status = rpc_status.from_call(refusal)
        assert status is not None
        violation = error_details_pb2.PreconditionFailure()
        assert status.details[0].Unpack(violation)
        assert violation.violations[0].type == "ERASED"
        still = await stub.GetCase(pb.GetCaseRequest(case_id=created_b.case_id))
        assert still.citizen == CITIZEN_B
