"""Intake with CASEDESK_SEAL_PERSONAL_DATA on, as it runs (issue #18): a real key service (its KEK
in a SoftHSM2 token, its key store on PostgreSQL), the case service, intake on PostgreSQL, mutual
TLS between them all and the test's clients (a frontend, the desk).

A citizen's case with a file and a comment with a file go through intake: the raw vault files and
every row of intake's PostgreSQL schema hold none of his identifiers, name or texts, while the
desk still opens the files. Once he is erased at the key service, his files answer
FAILED_PRECONDITION (ERASED) within seconds, a retried comment too, and a new upload is refused;
a retried case without files gets its acknowledgement (the case service's receipt answers it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support.key_service import softhsm_token_env, tls_env
from support.postgres_schemas import found_in, fresh_schemas, in_schema, schema_rows
from support.services import ServiceLauncher

from casedesk.case.v1 import case_service_pb2 as case_pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb
from casedesk.intake.v1 import attachment_vault_pb2_grpc as vault_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk.keys.v1 import key_service_pb2 as keys_pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_runtime import pki
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

TOKEN_LABEL = "casedesk-intake-sealing-it"
FRONTEND_TOKEN = "intake-sealing-frontend-token-7d1e"
LOGIN = "sidorov.pp"
CITIZEN = types_pb2.Citizen(
    full_name="Сидоров Пётр Павлович", snils="112-233-445 95", mobile_phone="+79161234567",
    email="petr.sidorov@example.ru",
)  # fmt: skip
DESCRIPTION = "Прилагаю скан паспорта Сидорова"
COMMENT = "Мой СНИЛС 112-233-445 95, пишите на petr.sidorov@example.ru"
SCAN = b"%PDF-1.7\n" + "паспорт Сидорова П.П. серия 4509".encode() + os.urandom(512)
LATER = b"%PDF-1.7\n" + "справка о доходах Сидорова".encode() + os.urandom(256)


def needles() -> list[str]:
    digits = "".join(c for c in CITIZEN.snils if c.isdigit())
    return [
        CITIZEN.full_name, "Сидоров", CITIZEN.snils, digits, CITIZEN.mobile_phone,
        CITIZEN.mobile_phone[2:], CITIZEN.email, LOGIN, DESCRIPTION, COMMENT, "паспорт",
    ]  # fmt: skip


@pytest.fixture
def schemas(postgres_dsn: str) -> Iterator[tuple[str, ...]]:
    """Fresh schemas: intake's, the case service's and the key service's."""
    with fresh_schemas(postgres_dsn, "intake_s", "case_s", "keys_s") as names:
        yield names


@pytest.fixture
def token_env(tmp_path: Path) -> dict[str, str]:
    """A SoftHSM2 token of its own, for the key service's process (which creates its KEK)."""
    return {
        **softhsm_token_env(tmp_path / "softhsm", TOKEN_LABEL),
        "CASEDESK_KEYS_KEK_CREATE": "true",
    }


def upload(content: bytes, name: str) -> intake_pb.AttachmentUpload:
    return intake_pb.AttachmentUpload(
        file_name=name, media_type="application/pdf", content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )  # fmt: skip


def erased_type(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None and status.details, "no details"
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(failure)
    return failure.violations[0].type


async def test_sealed_files_and_records_keep_nothing_in_clear_and_erasure_closes_them(
    services: ServiceLauncher,
    schemas: tuple[str, ...],
    postgres_env: dict[str, str],
    postgres_dsn: str,
    token_env: dict[str, str],
    tmp_path: Path,
) -> None:
    intake_schema, case_schema, keys_schema = schemas
    pki_dir = tmp_path / "pki"
    pki.ensure_pki(pki_dir, ["keys", "case", "intake", "frontend", "desk"])
    (tmp_path / "index.key").write_text(base64.b64encode(os.urandom(32)).decode())
    index_key = {"CASEDESK_KEYS_INDEX_KEY_FILE": str(tmp_path / "index.key")}
    data_dir = tmp_path / "intake-data"
    with (
        FakeIdentityProvider(realm="portal", audience="casedesk-intake") as portal,
        FakeIdentityProvider(realm="casedesk", audience="casedesk-case") as staff,
    ):
        keys = services(
            "casedesk_keyservice",
            {
                **token_env, **tls_env(pki_dir, "keys"), **index_key,
                "CASEDESK_KEYS_STORE_URL": in_schema(postgres_dsn, keys_schema),
                "CASEDESK_KEYS_ERASURE_POLL_S": "0.5",
                "CASEDESK_METRICS_PORT": "0",
            },
        )  # fmt: skip
        case = services(
            "casedesk_case",
            {
                **postgres_env, **tls_env(pki_dir, "case"),
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_SCHEMA": case_schema,
                "CASEDESK_RELAY_ENABLED": "false",
                "CASEDESK_OIDC_ISSUER": staff.issuer,
                "CASEDESK_OIDC_AUDIENCE": "casedesk-case",
                "CASEDESK_SHUTDOWN_GRACE_S": "1",
                "CASEDESK_METRICS_PORT": "0",
            },
        )  # fmt: skip
        frontend = {
            "name": "sealing-portal",
            "token_sha256": hashlib.sha256(FRONTEND_TOKEN.encode()).hexdigest(),
            "channels": ["PERSONAL_ACCOUNT"],
        }
        intake = services(
            "casedesk_intake",
            {
                **tls_env(pki_dir, "intake"), **index_key,
                "CASEDESK_CASE_ADDRESS": case.address,
                "CASEDESK_DATABASE_URL": in_schema(postgres_dsn, intake_schema),
                "CASEDESK_DATA_DIR": str(data_dir),
                "CASEDESK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                "CASEDESK_FRONTENDS": json.dumps([frontend]),
                "CASEDESK_CITIZEN_OIDC_ISSUER": portal.issuer,
                "CASEDESK_CITIZEN_OIDC_AUDIENCE": "casedesk-intake",
                "CASEDESK_SEAL_PERSONAL_DATA": "true",
                "CASEDESK_KEY_SERVICE_ADDRESS": keys.address,
                "CASEDESK_SHUTDOWN_GRACE_S": "1",
                "CASEDESK_METRICS_PORT": "0",
            },
        )  # fmt: skip
        as_citizen = (
            ("authorization", f"Bearer {FRONTEND_TOKEN}"),
            ("x-citizen-token", portal.mint_citizen(LOGIN)),
        )
        as_specialist = (("x-person-token", staff.mint_specialist("l3.orlova", tier="L3")),)
        async with (
            grpc.aio.secure_channel(
                intake.address, pki.client_credentials(pki_dir, "frontend")
            ) as frontend_channel,
            grpc.aio.secure_channel(
                intake.address, pki.client_credentials(pki_dir, "desk")
            ) as desk_channel,
            grpc.aio.secure_channel(
                case.address, pki.client_credentials(pki_dir, "intake")
            ) as case_channel,
            grpc.aio.secure_channel(
                keys.address, pki.client_credentials(pki_dir, "case")
            ) as keys_channel,
        ):
            portal_stub = intake_grpc.IntakeServiceStub(frontend_channel)
            vault = vault_grpc.AttachmentVaultServiceStub(desk_channel)

            async def opened(case_id: str, attachment_id: str) -> bytes:
                request = vault_pb.OpenAttachmentRequest(
                    case_id=case_id, attachment_id=attachment_id
                )
                call = vault.OpenAttachment(request, metadata=as_specialist)
                return b"".join([chunk.data async for chunk in call])

            submit = intake_pb.SubmitCaseRequest(
                idempotency_key=str(uuid.uuid4()),
                channel=types_pb2.PERSONAL_ACCOUNT,
                citizen=CITIZEN,
                content=types_pb2.CaseContent(subject="Справка", description=DESCRIPTION),
                provenance=types_pb2.Provenance(
                    personal_account=types_pb2.PersonalAccountOrigin(form_id="feedback")
                ),
                attachments=[upload(SCAN, "скан.pdf")],
            )
            acknowledgement = await portal_stub.SubmitCase(submit, metadata=as_citizen)
            # A case without files: no record of it in intake, the case service's receipt is
            # its record (intake's README "Idempotency").
            plain = intake_pb.SubmitCaseRequest()
            plain.CopyFrom(submit)
            plain.idempotency_key = str(uuid.uuid4())
            del plain.attachments[:]
            plain_acknowledgement = await portal_stub.SubmitCase(plain, metadata=as_citizen)
            comment = intake_pb.AddCommentRequest(
                idempotency_key=str(uuid.uuid4()), case_number=acknowledgement.number,
                body=COMMENT, attachments=[upload(LATER, "справка.pdf")],
            )  # fmt: skip
            commented = await portal_stub.AddComment(comment, metadata=as_citizen)
            assert commented.comments[-1].body == COMMENT

            view = await case_service_pb2_grpc.CaseServiceStub(case_channel).GetCase(
                case_pb.GetCaseRequest(case_id=acknowledgement.case_id)
            )
            # The case's own file, and the comment's (listed under the comment, its name opened
            # by the case service with the citizen's key).
            files = {a.sha256: a.attachment_id for a in view.attachments}
            scan_id = files[hashlib.sha256(SCAN).hexdigest()]
            assert await opened(view.case_id, scan_id) == SCAN
            (later,) = [a for c in view.comments for a in c.attachments]
            assert later.file_name == "справка.pdf"
            assert await opened(view.case_id, later.attachment_id) == LATER

            # Nothing of him in clear: not in the vault's files, not in intake's tables.
            raw = [p.read_bytes() for p in sorted((data_dir / "attachments").rglob("*.bin"))]
            assert len(raw) == 2 and all(r[:1] == b"\x02" for r in raw), "sealed files"
            assert all(SCAN not in r and LATER not in r for r in raw)
            assert found_in(b"\n".join(raw), needles()) == []
            stored = schema_rows(postgres_dsn, intake_schema)
            assert found_in(stored, [acknowledgement.number]) == [acknowledgement.number]
            assert found_in(stored, needles()) == []

            # Erased at the key service (the case service's identity, as its retention job):
            # within seconds his files are refused ERASED, as is the retried comment.
            await key_service_pb2_grpc.KeyServiceStub(keys_channel).EraseCitizen(
                keys_pb.EraseCitizenRequest(
                    identifiers=keys_pb.CitizenIdentifiers(login=LOGIN),
                    reason="test-erasure-intake",
                )
            )
            refusal: Any = None
            deadline = time.monotonic() + 20
            while refusal is None and time.monotonic() < deadline:
                try:
                    await opened(view.case_id, scan_id)
                    await asyncio.sleep(0.2)
                except grpc.aio.AioRpcError as error:
                    refusal = error
            assert refusal is not None, "the erased citizen's file still opened after 20 s"
            assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "data key was destroyed" in (refusal.details() or "")
            assert erased_type(refusal) == "ERASED"

            with pytest.raises(grpc.aio.AioRpcError) as retried:
                await portal_stub.AddComment(comment, metadata=as_citizen)
            assert retried.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert erased_type(retried.value) == "ERASED"

            # A retry of the case without files is answered from the case service's receipt
            # as it was before his erasure: the acknowledgement holds nothing of him.
            replayed = await portal_stub.SubmitCase(plain, metadata=as_citizen)
            assert replayed == plain_acknowledgement

            again = intake_pb.AddCommentRequest(
                idempotency_key=str(uuid.uuid4()), case_number=acknowledgement.number,
                body="Ещё файл", attachments=[upload(b"%PDF-1.7 more", "ещё.pdf")],
            )  # fmt: skip
            with pytest.raises(grpc.aio.AioRpcError) as refused_upload:
                await portal_stub.AddComment(again, metadata=as_citizen)
            assert refused_upload.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert erased_type(refused_upload.value) == "ERASED"
            after = list((data_dir / "attachments").rglob("*.bin"))
            assert len(after) == 2, "nothing kept for an erased citizen"
