"""Attachments on citizens' data keys (CASEDESK_SEAL_PERSONAL_DATA, issue #18) over real gRPC:
intake in-process with a keyring of the test's own standing in for the key service, a stand-in
case service. Files kept by SubmitCase and AddComment are sealed with the citizen's key; after his
erasure at the key owner a read answers FAILED_PRECONDITION ERASED, and an upload to his case is
refused the same way, with nothing kept and nothing sent to the case service; a new case of his
own is sealed with a new generation of his key (the key service's ReopenSubject)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from intake_messages import (
    MASTER_KEY,
    VALID_SNILS,
    frontend_entries,
    identity_settings,
    metadata,
    submission,
)
from intake_messages import upload as file_upload

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk.intake.v1 import attachment_vault_pb2_grpc as vault_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.__main__ import assembled, intake_server
from casedesk_intake.adapters.citizen_keys import CitizenKeys
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.testing.case_stand_in import CaseServiceStandIn
from casedesk_keys import IdentifierKind, IndexKey, KeyErased, Keyring, LocalKeySource, Subjects
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore
from casedesk_runtime.settings import SettingsError

SPECIALIST = "specialist.jwt"
LOGIN = "ivanov.ii"  # the portal login metadata() proves


@dataclass
class Keys:
    keyring: Keyring
    index_key: IndexKey

    def erase(self, login: str) -> None:
        subject = Subjects(self.index_key).of_identifier(IdentifierKind.LOGIN, login)
        self.keyring.erase(subject, "privacy.officer", "request 2026-17")


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    (tmp_path / "kek").mkdir()
    kek = SecretFileKekProvider(tmp_path / "kek", create=True)
    keyring = Keyring(SqliteKeyStore(tmp_path / "keys.sqlite"), kek)
    yield Keys(keyring, IndexKey(os.urandom(32)))
    keyring.store.close()
    kek.close()


class SealingCases(CaseServiceStandIn):
    """GetCase of a case whose citizen was erased as a sealing case service answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.erased: set[str] = set()
        # The logins whose key the key owner holds erased now (None: creates are not checked).
        self.erased_logins: Callable[[], set[str]] | None = None

    async def GetCase(self, request, context):  # type: ignore[no-untyped-def]
        if request.case_id in self.erased:
            violation = error_details_pb2.PreconditionFailure.Violation(
                type="ERASED", subject=f"case/{request.case_id}", description="erased"
            )
            detail = any_pb2.Any()
            detail.Pack(error_details_pb2.PreconditionFailure(violations=[violation]))
            message = f"the citizen of case {request.case_id} was erased"
            await context.abort_with_status(
                rpc_status.to_status(
                    status_pb2.Status(
                        code=code_pb2.FAILED_PRECONDITION, message=message, details=[detail]
                    )
                )
            )
        return await super().GetCase(request, context)

    async def CreateCases(self, request, context):  # type: ignore[no-untyped-def]
        """A sealing case service refuses a new case of a citizen whose key is erased (its key
        cache asks the key owner for his current key), as its CitizenErased is answered."""
        if self.erased_logins is not None:
            results = []
            for item in request.cases:
                if item.citizen.account_login in self.erased_logins():
                    violation = error_details_pb2.PreconditionFailure.Violation(
                        type="ERASED", subject="case/new", description="erased"
                    )
                    detail = any_pb2.Any()
                    detail.Pack(error_details_pb2.PreconditionFailure(violations=[violation]))
                    status = status_pb2.Status(
                        code=code_pb2.FAILED_PRECONDITION, message="the citizen was erased",
                        details=[detail],
                    )  # fmt: skip
                    refusal = case_pb2.CommandRefusal(
                        code=code_pb2.FAILED_PRECONDITION, message=status.message,
                        status_details=status.SerializeToString(),
                    )  # fmt: skip
                    results.append(case_pb2.CreateCaseResult(refusal=refusal))
                else:
                    one = case_pb2.CreateCasesRequest(cases=[item])
                    results.extend((await super().CreateCases(one, context)).results)
            return case_pb2.CreateCasesResponse(results=results)
        return await super().CreateCases(request, context)


@dataclass
class Running:
    intake: intake_grpc.IntakeServiceStub
    vault: vault_grpc.AttachmentVaultServiceStub
    cases: SealingCases
    data_dir: Path


@pytest.fixture
async def running(tmp_path: Path, keys: Keys) -> AsyncIterator[Running]:
    cases = SealingCases()
    case_server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(cases, case_server)
    case_port = case_server.add_insecure_port("127.0.0.1:0")
    await case_server.start()
    data_dir = tmp_path / "intake"
    settings = IntakeSettings(
        grpc_port=0, data_dir=data_dir, master_key=MASTER_KEY, frontends=frontend_entries(),
        citizen_rate_per_s=1000.0, citizen_burst=1000.0, shutdown_grace_s=0.0,
        grpc_insecure_dev=True, **identity_settings(),  # type: ignore[arg-type]
    )  # fmt: skip
    # The key service's ReopenSubject, as intake's key client calls it for a new case.
    citizen_keys = CitizenKeys(
        LocalKeySource(keys.keyring),
        keys.index_key,
        reopen=lambda subject: asyncio.to_thread(keys.keyring.reopen, subject),
    )
    case_channel = grpc.aio.insecure_channel(f"127.0.0.1:{case_port}")
    async with assembled(settings, case_channel, citizen_keys) as parts:
        server = intake_server(settings, parts)
        port = await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Running(
                intake_grpc.IntakeServiceStub(channel),
                vault_grpc.AttachmentVaultServiceStub(channel),
                cases,
                data_dir,
            )
        await server.stop(0)
    await case_channel.close()
    await case_server.stop(0)


def _erased_violations(refused: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(refused)  # type: ignore[arg-type]
    assert status is not None
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(failure)
    return [v.type for v in failure.violations]


async def _submitted(running: Running, *contents: bytes) -> tuple[str, list[str], str]:
    request = submission()
    request.attachments.extend(file_upload(c, f"файл-{n}.pdf") for n, c in enumerate(contents))
    acknowledgement = await running.intake.SubmitCase(request, metadata=metadata())
    case = running.cases.by_number(acknowledgement.number)
    return case.case_id, [a.attachment_id for a in case.attachments], acknowledgement.number


async def _open(running: Running, case_id: str, attachment_id: str) -> bytes:
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    sent = (("x-person-token", SPECIALIST),)
    chunks = [chunk async for chunk in running.vault.OpenAttachment(request, metadata=sent)]
    return b"".join(c.data for c in chunks)


def _vault_files(running: Running) -> list[bytes]:
    blobs = running.data_dir / "attachments" / "blobs"
    return [path.read_bytes() for path in sorted(blobs.rglob("*.bin"))]


async def test_files_are_sealed_with_the_citizens_key_and_erasure_makes_them_unreadable(
    running: Running, keys: Keys
) -> None:
    content = b"%PDF-1.7 " + "паспорт Иванова".encode() + os.urandom(64)
    case_id, (attachment_id,), _ = await _submitted(running, content)
    assert await _open(running, case_id, attachment_id) == content
    (raw,) = _vault_files(running)
    assert raw[:1] == b"\x02" and content not in raw and "паспорт".encode() not in raw
    assert not list((running.data_dir / "attachments" / "keys").iterdir()), "no vault key"

    keys.erase(LOGIN)
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        _ = [
            chunk
            async for chunk in running.vault.OpenAttachment(
                request, metadata=(("x-person-token", SPECIALIST),)
            )
        ]
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = refused.value.details() or ""
    assert details.startswith("erased") and "data key was destroyed" in details
    assert _erased_violations(refused.value) == ["ERASED"]


async def test_an_upload_to_an_erased_citizens_case_is_refused_and_nothing_is_kept(
    running: Running, keys: Keys
) -> None:
    case_id, _, number = await _submitted(running, b"%PDF-1.7 first")
    keys.erase(LOGIN)
    running.cases.erased.add(case_id)
    before = len(running.cases.cases)

    comment = intake_pb2.AddCommentRequest(
        idempotency_key="c-1", case_number=number, body="Дополняю",
        attachments=[file_upload(b"%PDF-later", "позже.pdf")],
    )  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.intake.AddComment(comment, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _erased_violations(refused.value) == ["ERASED"]
    assert len(_vault_files(running)) == 1, "only the file from before the erasure"
    assert len(running.cases.cases) == before


async def test_an_erased_citizen_who_writes_again_gets_a_new_key_and_his_old_files_stay_erased(
    running: Running, keys: Keys
) -> None:
    # Erased at his request, or by retention after his case closed: he may still write to
    # support. His new case and its file are sealed with a new generation of his key; the
    # erased generation never seals anything again, and his old file stays unreadable.
    old_case, [old_file], _ = await _submitted(running, b"%PDF-1.7 first")
    keys.erase(LOGIN)
    subject = Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, LOGIN)

    new_case, [new_file], number = await _submitted(running, b"%PDF-1.7 second")

    assert number and new_case != old_case
    assert keys.keyring.current_key(subject).generation == 2
    assert await _open(running, new_case, new_file) == b"%PDF-1.7 second"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _open(running, old_case, old_file)
    assert _erased_violations(refused.value) == ["ERASED"]


def _stored(running: Running) -> bytes:
    """Everything intake's own store keeps on disk (the SQLite file and its write-ahead log)."""
    files = sorted(running.data_dir.glob("intake.sqlite3*"))
    assert files, "intake's store is where the test looks"
    return b"".join(path.read_bytes() for path in files)


def _records(running: Running) -> list[tuple[str, bytes | None]]:
    with sqlite3.connect(running.data_dir / "intake.sqlite3") as db:
        rows = db.execute("SELECT request_hash, response FROM intake_idempotency").fetchall()
    return [
        (digest, bytes(response) if response is not None else None) for digest, response in rows
    ]


async def test_intakes_store_keeps_no_personal_data_in_clear(running: Running, keys: Keys) -> None:
    body = "Мой паспорт 4509 123456, звоните на +79123456789"
    _, _, number = await _submitted(running, b"%PDF-1.7 scan")
    comment = intake_pb2.AddCommentRequest(
        idempotency_key="c-1", case_number=number, body=body,
        attachments=[file_upload(b"%PDF-later", "позже.pdf")],
    )  # fmt: skip
    first = await running.intake.AddComment(comment, metadata=metadata())
    assert first.comments and first.comments[-1].body == body

    stored = _stored(running)
    for clear in (LOGIN, "ivanov@example.ru", "79123456789", VALID_SNILS, "Иванов", body,
                  "Пишет неверный пароль", "Не могу войти", "вход на портал"):  # fmt: skip
        assert clear.encode() not in stored, f"{clear!r} is kept in clear"
    responses = [response for _, response in _records(running) if response is not None]
    assert any(r.startswith(b"\xff") for r in responses), "the comment's reply is sealed"

    # A retry gets the same reply, opened again with his key.
    again = await running.intake.AddComment(comment, metadata=metadata())
    assert again == first

    # After his erasure the kept reply cannot be opened: the retry says so.
    keys.erase(LOGIN)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.intake.AddComment(comment, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _erased_violations(refused.value) == ["ERASED"]


async def test_a_case_about_the_same_service_is_still_linked_by_keyed_hashes(
    running: Running,
) -> None:
    first_id, _, _ = await _submitted(running)
    second_id, _, _ = await _submitted(running)
    assert running.cases.cases[second_id].linked_to == first_id
    other = submission(service_name="Запись к врачу")
    third = await running.intake.SubmitCase(other, metadata=metadata())
    assert running.cases.by_number(third.number).linked_to == "", "another service: no link"
    with sqlite3.connect(running.data_dir / "intake.sqlite3") as db:
        kept = db.execute("SELECT citizen_ref, service_key FROM intake_recent_cases").fetchall()
    assert len(kept) == 3
    assert all(topic.startswith("keyed:") and LOGIN not in ref for ref, topic in kept)


async def test_the_case_services_erased_answer_comes_through_as_it_came(
    running: Running,
) -> None:
    case_id, (attachment_id,), _ = await _submitted(running, b"%PDF-1.7")
    running.cases.erased.add(case_id)
    request = vault_pb2.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        _ = [
            chunk
            async for chunk in running.vault.OpenAttachment(
                request, metadata=(("x-person-token", SPECIALIST),)
            )
        ]
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"the citizen of case {case_id} was erased" in (refused.value.details() or "")
    assert _erased_violations(refused.value) == ["ERASED"]


async def test_an_erased_citizens_new_case_without_files_is_reopened_when_the_case_service_refuses(
    running: Running, keys: Keys
) -> None:
    # No file, so intake needs no key of his: the sealing case service is the one that finds him
    # erased. Intake then has him reopened and sends the case again, once.
    await _submitted(running)
    keys.erase(LOGIN)
    subject = Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, LOGIN)

    def erased_now() -> set[str]:
        try:
            keys.keyring.current_key(subject)
        except KeyErased:
            return {LOGIN}
        return set()

    running.cases.erased_logins = erased_now
    before = len(running.cases.cases)

    _, _, number = await _submitted(running)

    assert number and len(running.cases.cases) == before + 1
    assert keys.keyring.current_key(subject).generation == 2


async def test_a_restart_with_sealing_off_is_refused_once_intake_kept_sealed_records(
    running: Running, tmp_path: Path
) -> None:
    await _submitted(running, b"%PDF-1.7 sealed")  # the running intake seals: its store is marked
    settings = IntakeSettings(
        grpc_port=0, data_dir=running.data_dir, master_key=MASTER_KEY,
        frontends=frontend_entries(), shutdown_grace_s=0.0, grpc_insecure_dev=True,
        **identity_settings(),  # type: ignore[arg-type]
    )  # fmt: skip
    channel = grpc.aio.insecure_channel("127.0.0.1:1")
    try:
        with pytest.raises(SettingsError, match="CASEDESK_SEAL_PERSONAL_DATA is off"):
            async with assembled(settings, channel, None):
                pass
    finally:
        await channel.close()
