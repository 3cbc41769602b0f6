"""The desk opens attachments through intake's AttachmentVaultService: intake in-process over real
gRPC, a stand-in case service that answers for people the way the real one does (by the token it
is sent), files kept by a real SubmitCase and comment."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from intake_messages import MASTER_KEY, frontend_entries, identity_settings, metadata, submission
from intake_messages import upload as file_upload

from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk.intake.v1 import attachment_vault_pb2_grpc as vault_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.__main__ import assembled, erase, intake_server
from casedesk_intake.application.erasure import identities
from casedesk_intake.domain.opened_attachments import CHUNK_BYTES
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.testing.case_stand_in import CaseServiceStandIn
from casedesk_runtime.grpc_errors import bad_request_status, field_violations

SPECIALIST, NOBODY, EXPIRED = "specialist.jwt", "no-role.jwt", "expired.jwt"


def pdf(size: int) -> bytes:
    """A file of `size` bytes that intake takes for a PDF (it checks the content's type)."""
    return (b"%PDF-1.7\n" + os.urandom(size))[:size]


class CasesForPeople(CaseServiceStandIn):
    """GetCase with a person's token as the real case service answers it: a person without a
    role as for a missing case, a rejected token UNAUTHENTICATED; and what each read was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[dict[str, str]] = []

    async def GetCase(self, request, context):  # type: ignore[no-untyped-def]
        sent = {k: v for k, v in context.invocation_metadata() or () if k.startswith("x-")}
        self.reads.append(sent)
        token = sent.get("x-person-token")
        if token == NOBODY:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"case {request.case_id} not found")
        if token == EXPIRED:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "x-person-token rejected: expired")
        if token == "bad-purpose.jwt":
            await context.abort_with_status(bad_request_status([("x-access-purpose", "is empty")]))
        return await super().GetCase(request, context)


@dataclass
class Running:
    intake: intake_grpc.IntakeServiceStub
    vault: vault_grpc.AttachmentVaultServiceStub
    cases: CasesForPeople
    settings: IntakeSettings


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    cases = CasesForPeople()
    case_server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(cases, case_server)
    case_port = case_server.add_insecure_port("127.0.0.1:0")
    await case_server.start()
    settings = IntakeSettings(
        grpc_port=0, data_dir=tmp_path, master_key=MASTER_KEY, frontends=frontend_entries(),
        citizen_rate_per_s=1000.0, citizen_burst=1000.0, shutdown_grace_s=0.0,
        grpc_insecure_dev=True, attachment_max_bytes=CHUNK_BYTES * 3,
        attachments_max_total_bytes=CHUNK_BYTES * 4, **identity_settings(),  # type: ignore[arg-type]
    )  # fmt: skip
    case_channel = grpc.aio.insecure_channel(f"127.0.0.1:{case_port}")
    async with assembled(settings, case_channel) as parts:
        server = intake_server(settings, parts)
        port = await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Running(
                intake_grpc.IntakeServiceStub(channel),
                vault_grpc.AttachmentVaultServiceStub(channel),
                cases,
                settings,
            )
        await server.stop(0)
    await case_channel.close()
    await case_server.stop(0)


async def _submitted(running: Running, *contents: bytes) -> tuple[str, list[str]]:
    """A portal case with these files; its case id and the ids of its attachments."""
    request = submission()
    request.attachments.extend(file_upload(c, f"файл-{n}.pdf") for n, c in enumerate(contents))
    acknowledgement = await running.intake.SubmitCase(request, metadata=metadata())
    case = running.cases.by_number(acknowledgement.number)
    return case.case_id, [a.attachment_id for a in case.attachments]


async def _open(
    running: Running, case_id: str, attachment_id: str, token: str | None = SPECIALIST
) -> list[vault_pb2.AttachmentChunk]:
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    sent = (("x-person-token", token),) if token is not None else ()
    return [chunk async for chunk in running.vault.OpenAttachment(request, metadata=sent)]


async def _refused(running: Running, *args: str | None) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _open(running, *args)  # type: ignore[arg-type]
    return refused.value


async def test_a_specialist_gets_the_exact_bytes_in_chunks_and_his_read_is_his(running) -> None:
    big, small = pdf(2 * CHUNK_BYTES + 7), b"%PDF-1.7 small"
    case_id, (big_id, small_id) = await _submitted(running, big, small)
    running.cases.reads.clear()

    chunks = await _open(running, case_id, big_id)
    assert [len(c.data) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, 7]
    assert b"".join(c.data for c in chunks) == big
    first = chunks[0].attachment
    assert (first.attachment_id, first.file_name, first.media_type, first.size_bytes) == (
        big_id, "файл-0.pdf", "application/pdf", len(big)
    )  # fmt: skip
    assert first.sha256 == hashlib.sha256(big).hexdigest()
    assert not any(c.HasField("attachment") for c in chunks[1:])
    assert b"".join(c.data for c in await _open(running, case_id, small_id)) == small

    (read, _) = running.cases.reads
    assert read["x-person-token"] == SPECIALIST
    assert unquote(read["x-access-purpose"]) == "открытие вложения"
    assert read["x-access-purpose"].isascii()


async def test_a_comments_attachment_opens_too(running) -> None:
    request = submission()
    acknowledgement = await running.intake.SubmitCase(request, metadata=metadata())
    comment = intake_pb2.AddCommentRequest(
        idempotency_key="c-1", case_number=acknowledgement.number, body="Дополняю",
        attachments=[file_upload(b"%PDF-later", "позже.pdf")],
    )  # fmt: skip
    await running.intake.AddComment(comment, metadata=metadata())
    case = running.cases.by_number(acknowledgement.number)
    assert list(case.attachments) == []  # the comment's file is the comment's, as the case keeps it
    ((attachment,),) = [c.attachments for c in case.comments]
    chunks = await _open(running, case.case_id, attachment.attachment_id)
    assert [c.data for c in chunks] == [b"%PDF-later"]


@pytest.mark.parametrize(
    ("token", "code", "words"),
    [
        (
            None,
            grpc.StatusCode.UNAUTHENTICATED,
            "send their access token as metadata x-person-token",
        ),
        (NOBODY, grpc.StatusCode.NOT_FOUND, "not found"),
        (EXPIRED, grpc.StatusCode.UNAUTHENTICATED, "x-person-token rejected: expired"),
    ],
)
async def test_whom_the_case_service_does_not_let_read_gets_its_answer(
    running, token, code, words
) -> None:
    case_id, (attachment_id,) = await _submitted(running, b"%PDF-1.7")
    running.cases.reads.clear()
    refused = await _refused(running, case_id, attachment_id, token)
    assert refused.code() == code and words in (refused.details() or "")
    assert len(running.cases.reads) == (0 if token is None else 1), "no token: nobody is asked"


async def test_two_person_tokens_are_nobodys_call(running) -> None:
    case_id, (attachment_id,) = await _submitted(running, b"%PDF-1.7")
    running.cases.reads.clear()
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    two = (("x-person-token", SPECIALIST), ("x-person-token", NOBODY))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        _ = [chunk async for chunk in running.vault.OpenAttachment(request, metadata=two)]
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-person-token rejected: malformed" in (refused.value.details() or "")
    assert running.cases.reads == []


async def test_the_case_services_details_come_through(running) -> None:
    case_id, (attachment_id,) = await _submitted(running, b"%PDF-1.7")
    refused = await _refused(running, case_id, attachment_id, "bad-purpose.jwt")
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused) == [("x-access-purpose", "is empty")]


async def test_bad_ids_are_named(running) -> None:
    case_id, _ = await _submitted(running, b"%PDF-1.7")
    refused = await _refused(running, "not-a-uuid", "")
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(field_violations(refused)) == {
        "case_id": "is not a case id (a UUID)",
        "attachment_id": "is required",
    }
    unknown = await _refused(running, case_id, "5c0f4e0a-0000-4000-8000-000000000000")
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert [field for field, _ in field_violations(unknown)] == ["attachment_id"]


async def test_another_cases_attachment_is_not_this_cases(running) -> None:
    mine, (my_file,) = await _submitted(running, b"%PDF-mine")
    other, _ = await _submitted(running, b"%PDF-other")
    refused = await _refused(running, other, my_file)
    assert refused.code() == grpc.StatusCode.NOT_FOUND
    assert [c.data for c in await _open(running, mine, my_file)] == [b"%PDF-mine"]


async def test_an_erased_citizens_attachment_is_failed_precondition_erased(running) -> None:
    case_id, (attachment_id,) = await _submitted(running, b"%PDF-1.7")
    citizen = running.cases.cases[case_id].citizen
    await erase(
        running.settings, identities(citizen.account_login, citizen.email, citizen.mobile_phone)
    )
    refused = await _refused(running, case_id, attachment_id)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (refused.details() or "").startswith("erased")
    status = rpc_status.from_call(refused)  # type: ignore[arg-type]
    assert status is not None
    failure = error_details_pb2.PreconditionFailure()
    status.details[0].Unpack(failure)
    assert [v.type for v in failure.violations] == ["ERASED"]


async def test_a_file_unlike_the_recorded_one_stops_before_its_last_chunk(running) -> None:
    content = pdf(2 * CHUNK_BYTES + 1)
    case_id, (attachment_id,) = await _submitted(running, content)
    running.cases.cases[case_id].attachments[0].sha256 = hashlib.sha256(b"other").hexdigest()
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    call = running.vault.OpenAttachment(request, metadata=(("x-person-token", SPECIALIST),))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for chunk in call:
            received.append(chunk.data)
    assert refused.value.code() == grpc.StatusCode.DATA_LOSS
    assert b"".join(received) == content[: 2 * CHUNK_BYTES], "the last chunk never left"
