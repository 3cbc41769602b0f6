"""Opening an attachment for a specialist: the case service decides about him, intake decrypts
only what the case it answered with lists, and hands it out in checked pieces."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from casedesk_intake.adapters.keys import CitizenReferences
from casedesk_intake.adapters.vault import AttachmentVault
from casedesk_intake.application.attachment_opening import OPENING_PURPOSE, AttachmentOpening
from casedesk_intake.domain.cases import Case, StoredAttachment
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import (
    AttachmentDamaged,
    AttachmentErased,
    AttachmentNotFound,
    CaseServiceError,
)
from casedesk_intake.domain.opened_attachments import CHUNK_BYTES, checked_chunks

MASTER = os.urandom(32)
CASE_ID = "0b6f1c4e-3f0a-4a57-9a43-5d8d3c1e2f10"
CITIZEN = Citizen(full_name="Иванов Иван", account_login="ivanov.ii")


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES]
)
def test_pieces_are_at_most_a_chunk_and_make_up_the_file(size: int) -> None:
    content = os.urandom(size)
    pieces = list(checked_chunks(content, _sha(content)))
    assert b"".join(pieces) == content
    assert all(len(p) <= CHUNK_BYTES for p in pieces)
    assert len(pieces) == max(1, -(-size // CHUNK_BYTES)), "an empty file is one empty piece"


def test_a_file_that_is_not_the_recorded_one_never_gets_its_last_piece_out() -> None:
    content = os.urandom(2 * CHUNK_BYTES + 10)
    sent = []
    with pytest.raises(AttachmentDamaged, match="SHA-256"):
        for piece in checked_chunks(content, _sha(b"another file")):
            sent.append(piece)
    assert len(sent) == 2 and b"".join(sent) == content[: 2 * CHUNK_BYTES]


@dataclass
class FakeCases:
    """The case service as far as opening needs it: a case, or its refusal, and what it was
    asked (the token and the purpose of each read)."""

    case: Case | None = None
    refusal: grpc.StatusCode | None = None
    reads: list[tuple[str, str, str]] = field(default_factory=list)

    async def read_for_person(self, case_id: str, person_token: str, purpose: str) -> Case:
        self.reads.append((case_id, person_token, purpose))
        if self.refusal is not None:
            raise CaseServiceError(self.refusal, "as the case service answered")
        assert self.case is not None
        return self.case


@pytest.fixture
def vault(tmp_path: Path) -> AttachmentVault:
    return AttachmentVault(tmp_path / "attachments", MASTER)


async def _kept(vault: AttachmentVault, content: bytes, attachment_id: str = "att-1") -> Case:
    reference = CitizenReferences(MASTER).of(CITIZEN.identity())
    digest = await vault.store(reference, attachment_id, content)
    stored = StoredAttachment(attachment_id, "скан.pdf", "application/pdf", len(content), digest)
    return Case(CASE_ID, "2026-0000001", None, None, CITIZEN, "Тема", attachments=(stored,))


def _opening(cases: FakeCases, vault: AttachmentVault) -> AttachmentOpening:
    return AttachmentOpening(cases, vault, CitizenReferences(MASTER))  # type: ignore[arg-type]


async def test_the_case_services_answer_decides_and_the_read_carries_token_and_purpose(
    vault: AttachmentVault,
) -> None:
    content = b"%PDF-1.7 " + os.urandom(CHUNK_BYTES)
    cases = FakeCases(await _kept(vault, content))
    opened = await _opening(cases, vault).open("the.specialists.jwt", CASE_ID, "att-1")
    assert b"".join(opened.chunks()) == content
    assert opened.attachment.file_name == "скан.pdf"
    assert cases.reads == [(CASE_ID, "the.specialists.jwt", OPENING_PURPOSE)]
    assert OPENING_PURPOSE == "открытие вложения"


@pytest.mark.parametrize(
    "refusal",
    [grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED],
)
async def test_a_case_the_person_may_not_read_is_refused_as_the_case_service_refused(
    vault: AttachmentVault, refusal: grpc.StatusCode
) -> None:
    await _kept(vault, b"%PDF")
    with pytest.raises(CaseServiceError) as refused:
        await _opening(FakeCases(refusal=refusal), vault).open("jwt", CASE_ID, "att-1")
    assert refused.value.code == refusal


async def test_an_attachment_the_case_does_not_list_is_not_opened(vault: AttachmentVault) -> None:
    case = await _kept(vault, b"%PDF")
    other = Case(CASE_ID, "2026-0000002", None, None, CITIZEN, "Другое")  # lists nothing
    await vault.store(CitizenReferences(MASTER).of(CITIZEN.identity()), "att-2", b"%PDF-2")
    for listed, wanted in ((case, "att-2"), (other, "att-1")):
        with pytest.raises(AttachmentNotFound) as refused:
            await _opening(FakeCases(listed), vault).open("jwt", CASE_ID, wanted)
        assert refused.value.field == "attachment_id"


async def test_an_erased_citizens_attachment_answers_erased(vault: AttachmentVault) -> None:
    cases = FakeCases(await _kept(vault, b"%PDF"))
    await vault.erase_citizen(CitizenReferences(MASTER).of(CITIZEN.identity()))
    with pytest.raises(AttachmentErased, match=r"^erased"):
        await _opening(cases, vault).open("jwt", CASE_ID, "att-1")


async def test_a_copy_unlike_the_recorded_file_is_damaged(vault: AttachmentVault) -> None:
    case = await _kept(vault, b"%PDF-original")
    (listed,) = case.attachments
    wrong = StoredAttachment(listed.attachment_id, listed.file_name, listed.media_type,
                             listed.size_bytes, _sha(b"%PDF-what-the-case-recorded"))  # fmt: skip
    cases = FakeCases(Case(CASE_ID, case.number, None, None, CITIZEN, "", attachments=(wrong,)))
    opened = await _opening(cases, vault).open("jwt", CASE_ID, "att-1")
    with pytest.raises(AttachmentDamaged):
        list(opened.chunks())
