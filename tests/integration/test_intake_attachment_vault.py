"""The desk opens citizens' attachments through intake's AttachmentVaultService: intake and the case
service as processes (mutual TLS, PostgreSQL, the secured broker), specialists signed in to
Keycloak's `casedesk` realm, citizens' files kept by a real SubmitCase.

Intake decides nothing about the person: the case service reads the case for the token the desk
forwarded, with the purpose «открытие вложения», and journals the read as his, via intake. So a
specialist gets the exact bytes and the auditor sees the read; a person without a casedesk role is
answered as for a missing case; only the `desk` certificate may call; an id the case does not list
is NOT_FOUND; once the citizen is erased, his files are FAILED_PRECONDITION "erased".
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from support.provisioning import SecureKafka
from support.system import Casedesk, start_casedesk

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk.intake.v1 import attachment_vault_pb2_grpc as vault_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_runtime.grpc_errors import field_violations

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

STAFF = "casedesk"
CHUNK = 256 * 1024
PURPOSE = "открытие вложения"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    keycloak: Any,
) -> AsyncIterator[Casedesk]:
    directory = tmp_path_factory.mktemp("intake-attachment-vault")
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak,
        services=("case", "intake"),
    ) as system:  # fmt: skip
        yield system


@pytest.fixture(scope="module")
def nobody(keycloak: Any) -> Iterator[str]:
    """A member of the staff realm with no casedesk role: his token is valid, he sees no case."""
    username = f"norole.{uuid.uuid4().hex[:8]}"
    keycloak.admin.create_user(STAFF, username)
    yield username
    keycloak.admin.delete_user(STAFF, username)


def pdf(size: int) -> bytes:
    return (b"%PDF-1.7\n" + os.urandom(size))[:size]


async def submitted(casedesk: Casedesk, login: str, *files: bytes) -> tuple[str, list[str]]:
    """A portal chat case of `login` with `files`; its case id and attachment ids (as the desk
    reads them from the case service)."""
    request = intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.PORTAL_CHAT,
        citizen=types_pb2.Citizen(full_name="Сидоров Пётр", mobile_phone="+79161234567"),
        content=types_pb2.CaseContent(subject="Справка", description="Прилагаю скан"),
        provenance=types_pb2.Provenance(chat=types_pb2.ChatOrigin(session_id="chat-v")),
        attachments=[
            intake_pb2.AttachmentUpload(
                file_name=f"скан-{n}.pdf",
                media_type="application/pdf",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
            )
            for n, content in enumerate(files)
        ],
    )
    async with casedesk.channel("intake") as channel:
        acknowledgement = await intake_grpc.IntakeServiceStub(channel).SubmitCase(
            request, metadata=casedesk.frontend.acting_for(login)
        )
    async with casedesk.channel("case", caller="desk", person="l3.sidorova") as channel:
        view = await case_grpc.CaseServiceStub(channel).GetCase(
            case_pb2.GetCaseRequest(case_id=acknowledgement.case_id)
        )
    return view.case_id, [a.attachment_id for a in view.attachments]


async def opened(
    casedesk: Casedesk,
    case_id: str,
    attachment_id: str,
    person: str | None = "l1.ivanova",
    caller: str = "desk",
) -> list[vault_pb2.AttachmentChunk]:
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    # The token as metadata of the call itself: Casedesk.channel(person=...) adds it with an
    # interceptor that grpc.aio applies to unary calls only (one interceptor, one call type).
    token = [("x-person-token", casedesk.keycloak.token(STAFF, person))] if person else []
    async with casedesk.channel("intake", caller=caller) as channel:
        call = vault_grpc.AttachmentVaultServiceStub(channel).OpenAttachment(
            request, metadata=token
        )
        return [chunk async for chunk in call]


async def refused(casedesk: Casedesk, *args: Any, **kwargs: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await opened(casedesk, *args, **kwargs)
    return error.value


def login() -> str:
    return f"sidorov.{uuid.uuid4().hex[:8]}"


async def test_a_specialist_gets_the_exact_bytes_and_the_auditor_sees_his_read(
    casedesk: Casedesk, keycloak: Any
) -> None:
    scan, note = pdf(CHUNK + 4321), b"%PDF-1.4 a short note"
    case_id, (scan_id, note_id) = await submitted(casedesk, login(), scan, note)

    chunks = await opened(casedesk, case_id, scan_id)
    assert b"".join(c.data for c in chunks) == scan
    assert [len(c.data) for c in chunks] == [CHUNK, 4321]
    described = chunks[0].attachment
    assert (described.file_name, described.size_bytes) == ("скан-0.pdf", len(scan))
    assert described.sha256 == hashlib.sha256(scan).hexdigest()
    assert [c.data for c in await opened(casedesk, case_id, note_id)] == [note]

    auditor = [("x-person-token", keycloak.token(STAFF, "audit.kuznetsov"))]
    async with casedesk.channel("case", caller="desk") as channel:
        page = await case_grpc.CaseServiceStub(channel).ListAccessRecords(
            case_pb2.ListAccessRecordsRequest(case_id=case_id), metadata=auditor
        )
    through_intake = [
        (r.rpc, r.person, r.role, r.purpose) for r in page.records if r.caller == "intake"
    ]
    assert through_intake == [("GetCase", "l1.ivanova", "specialist L1", PURPOSE)] * 2


async def test_a_file_the_citizen_sends_with_a_comment_is_listed_and_opens(
    casedesk: Casedesk,
) -> None:
    """The document asked for comes with the citizen's comment: the case service lists it under
    his comment (not among the case's own files), and the desk opens it through intake like the
    case's own."""
    citizen = login()
    case_id, (first_id,) = await submitted(casedesk, citizen, pdf(100))
    later = pdf(2000)
    comment = intake_pb2.AddCommentRequest(
        idempotency_key=str(uuid.uuid4()), case_number="", body="Прикладываю справку",
        attachments=[intake_pb2.AttachmentUpload(
            file_name="справка.pdf", media_type="application/pdf", content=later,
            sha256=hashlib.sha256(later).hexdigest(),
        )],
    )  # fmt: skip
    async with casedesk.channel("case", caller="desk", person="l3.sidorova") as channel:
        stub = case_grpc.CaseServiceStub(channel)
        comment.case_number = (await stub.GetCase(case_pb2.GetCaseRequest(case_id=case_id))).number
        async with casedesk.channel("intake") as intake:
            await intake_grpc.IntakeServiceStub(intake).AddComment(
                comment, metadata=casedesk.frontend.acting_for(citizen)
            )
        view = await stub.GetCase(case_pb2.GetCaseRequest(case_id=case_id))
    assert [a.attachment_id for a in view.attachments] == [first_id]
    (listed,) = [a for c in view.comments for a in c.attachments]
    assert (listed.file_name, listed.size_bytes) == ("справка.pdf", len(later))
    chunks = await opened(casedesk, case_id, listed.attachment_id)
    assert b"".join(c.data for c in chunks) == later


async def test_a_person_without_a_role_is_answered_as_for_a_missing_case(
    casedesk: Casedesk, nobody: str
) -> None:
    case_id, (attachment_id,) = await submitted(casedesk, login(), pdf(100))
    error = await refused(casedesk, case_id, attachment_id, person=nobody)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await opened(casedesk, case_id, attachment_id), "the case is there for a specialist"


async def test_a_call_without_or_with_a_bad_person_token_is_unauthenticated(
    casedesk: Casedesk,
) -> None:
    case_id, (attachment_id,) = await submitted(casedesk, login(), pdf(100))
    without = await refused(casedesk, case_id, attachment_id, person=None)
    assert without.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-person-token" in (without.details() or "")
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    async with casedesk.channel("intake", caller="desk") as channel:
        call = vault_grpc.AttachmentVaultServiceStub(channel).OpenAttachment(
            request, metadata=[("x-person-token", "not.a.jwt")]
        )
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            _ = [chunk async for chunk in call]
    assert bad.value.code() == grpc.StatusCode.UNAUTHENTICATED, "the case service's answer"


@pytest.mark.parametrize("caller", ["escalation", "frontend", "operator"])
async def test_only_the_desks_certificate_may_open(casedesk: Casedesk, caller: str) -> None:
    case_id, (attachment_id,) = await submitted(casedesk, login(), pdf(100))
    error = await refused(casedesk, case_id, attachment_id, caller=caller)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"spiffe://casedesk/{caller}" in (error.details() or "")


async def test_an_attachment_id_the_case_does_not_list_is_not_found(casedesk: Casedesk) -> None:
    case_id, _ = await submitted(casedesk, login(), pdf(100))
    _, (elsewhere,) = await submitted(casedesk, login(), pdf(100))
    for wrong in (elsewhere, str(uuid.uuid4())):
        error = await refused(casedesk, case_id, wrong)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert [field for field, _ in field_violations(error)] == ["attachment_id"]


async def test_an_erased_citizens_attachment_is_failed_precondition_erased(
    casedesk: Casedesk,
) -> None:
    citizen = login()
    case_id, (attachment_id,) = await submitted(casedesk, citizen, pdf(100))
    assert await opened(casedesk, case_id, attachment_id)
    erase = [sys.executable, "-c", "import sys; from casedesk_intake.__main__ import erase_main; "
             "sys.exit(erase_main())", "--login", citizen]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, erase, env={**os.environ, **casedesk.intake.env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    error = await refused(casedesk, case_id, attachment_id)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (error.details() or "").startswith("erased")
