"""Attachments: a safe name and type for the browser, the content checked against intake's record
while it streams, intake's refusals as Russian pages, the download's headers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import attachment_vault_pb2 as pb
from casedesk_desk.adapters.attachment_vault import IntakeAttachmentVault
from casedesk_desk.application.attachments import AttachmentDamaged, Attachments
from casedesk_desk.application.ports import AttachmentInfo, OpenedAttachment
from casedesk_desk.domain.attachments import content_disposition, safe_file_name, served_media_type
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.web.app import COOKIE

from .apps import desk_app
from .fakes import FakeCases, signed_in

CONTENT = [b"%PDF-1.7 ", b"page one ", b"page two"]
WHOLE = b"".join(CONTENT)


def _info(**fields: Any) -> AttachmentInfo:
    values: dict[str, Any] = {
        "attachment_id": "a-1",
        "file_name": "Справка.pdf",
        "media_type": "application/pdf",
        "size_bytes": len(WHOLE),
        "sha256": hashlib.sha256(WHOLE).hexdigest(),
    }
    return AttachmentInfo(**{**values, **fields})


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class FakeVault:
    def __init__(self, info: AttachmentInfo, parts: list[bytes] = CONTENT) -> None:
        self.info, self.parts = info, parts
        self.refusal: Refused | None = None
        self.opened: list[tuple[str, str, str]] = []

    async def open(self, token: str, case_id: str, attachment_id: str) -> OpenedAttachment:
        self.opened.append((token, case_id, attachment_id))
        if self.refusal:
            raise self.refusal
        return OpenedAttachment(self.info, _chunks(self.parts))


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("Справка.pdf", "Справка.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Иван\\скан.png", "скан.png"),
        ("счёт\u202efdp.exe", "счётfdp.exe"),  # a right-to-left override hides the real type
        ("..hidden. ", "hidden"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("", "вложение"),
        ("...", "вложение"),
        ("я" * 200 + ".docx", "я" * 145 + ".docx"),  # 150 characters
    ],
)
def test_a_citizens_file_name_is_made_harmless(given: str, safe: str) -> None:
    assert safe_file_name(given) == safe


def test_the_download_is_forced_with_an_ascii_name_and_the_exact_utf8_one() -> None:
    assert content_disposition('Справка "1".pdf') == (
        'attachment; filename="_______ _1_.pdf"; '
        "filename*=UTF-8''%D0%A1%D0%BF%D1%80%D0%B0%D0%B2%D0%BA%D0%B0%20%221%22.pdf"
    )


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("IMAGE/PNG", "image/png"),
        ("text/plain", "text/plain; charset=utf-8"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/pdf; x=1", "application/pdf"),
        ("", "application/octet-stream"),
    ],
)
def test_only_listed_types_are_served_as_such(declared: str, served: str) -> None:
    assert served_media_type(declared) == served


async def _read(opened: OpenedAttachment) -> list[bytes]:
    return [chunk async for chunk in opened.chunks]


async def test_content_that_matches_intakes_record_passes_whole() -> None:
    opened = await Attachments(FakeVault(_info())).open("t", "c-1", "a-1")
    assert b"".join(await _read(opened)) == WHOLE


@pytest.mark.parametrize(
    "info",
    [
        _info(sha256=hashlib.sha256(b"other").hexdigest()),
        _info(size_bytes=len(WHOLE) + 1),
        _info(size_bytes=len(WHOLE) - 1),
    ],
)
async def test_content_that_differs_is_broken_off_before_its_last_piece(
    info: AttachmentInfo,
) -> None:
    opened = await Attachments(FakeVault(info)).open("t", "c-1", "a-1")
    passed: list[bytes] = []
    with pytest.raises(AttachmentDamaged):
        async for chunk in opened.chunks:
            passed.append(chunk)
    assert b"".join(passed) != WHOLE and len(passed) < len(CONTENT)


@pytest.mark.parametrize("attachment_id", ["", "a\nb", "x" * 201])
async def test_an_id_that_names_no_attachment_is_not_asked_for(attachment_id: str) -> None:
    vault = FakeVault(_info())
    with pytest.raises(Refused) as refused:
        await Attachments(vault).open("t", "c-1", attachment_id)
    assert refused.value.kind is RefusalKind.NOT_FOUND and vault.opened == []


def _client(vault: FakeVault) -> Any:
    under_test = desk_app(FakeCases(), vault)
    under_test.client.cookies.set(COOKIE, signed_in(under_test.store).session_id)
    return under_test.client


def test_the_download_is_an_attachment_with_a_vouched_type_and_nothing_that_runs() -> None:
    vault = FakeVault(_info(file_name="<script>.html", media_type="text/html"))
    reply = _client(vault).get("/cases/c-1/attachments/a-1")
    assert reply.status_code == 200
    assert reply.content == WHOLE
    assert reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers["content-disposition"].startswith('attachment; filename="<script>.html"')
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert reply.headers["cache-control"] == "no-store"
    assert vault.opened == [("access", "c-1", "a-1")]


@pytest.mark.parametrize(
    ("refusal", "status", "words"),
    [
        (Refused(RefusalKind.NOT_FOUND, "Вложение не найдено."), 404, "Вложение не найдено."),
        (Refused(RefusalKind.GONE, "Вложение недоступно: …"), 410, "Вложение недоступно: …"),
        (Refused(RefusalKind.FORBIDDEN, "Недостаточно прав: …"), 403, "Недостаточно прав: …"),
    ],
)
def test_intakes_refusals_are_russian_pages(refusal: Refused, status: int, words: str) -> None:
    vault = FakeVault(_info())
    vault.refusal = refusal
    reply = _client(vault).get("/cases/c-1/attachments/a-1")
    assert reply.status_code == status and words in reply.text


class _Error(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class _Call:
    def __init__(self, messages: list[Any]) -> None:
        self.messages, self.cancelled = messages, False

    async def read(self) -> Any:
        if not self.messages:
            return grpc.aio.EOF
        message = self.messages.pop(0)
        if isinstance(message, Exception):
            raise message
        return message

    def cancel(self) -> None:
        self.cancelled = True


class _Stub:
    def __init__(self, call: _Call) -> None:
        self.call = call
        self.asked: list[Any] = []

    def OpenAttachment(self, request: Any, **kwargs: Any) -> _Call:
        self.asked.append((request, kwargs))
        return self.call


def _vault(messages: list[Any]) -> tuple[IntakeAttachmentVault, _Stub]:
    vault = IntakeAttachmentVault.__new__(IntakeAttachmentVault)
    stub = _Stub(_Call(messages))
    vault._stub, vault._timeout_s = stub, 30.0  # type: ignore[assignment]
    return vault, stub


async def test_the_vault_is_asked_with_the_persons_token_and_streams_the_chunks() -> None:
    described = types_pb2.Attachment(
        attachment_id="a-1", file_name="Справка.pdf", media_type="application/pdf", size_bytes=3
    )
    vault, stub = _vault([pb.AttachmentChunk(attachment=described, data=b"ab"),
                          pb.AttachmentChunk(data=b"c")])  # fmt: skip
    opened = await vault.open("token", "c-1", "a-1")
    assert opened.info.file_name == "Справка.pdf"
    assert await _read(opened) == [b"ab", b"c"]
    request, kwargs = stub.asked[0]
    assert (request.case_id, request.attachment_id) == ("c-1", "a-1")
    assert kwargs["metadata"] == [("x-person-token", "token")] and kwargs["timeout"] == 30.0


@pytest.mark.parametrize(
    ("code", "details", "kind"),
    [
        (grpc.StatusCode.NOT_FOUND, "case c-1 not found", RefusalKind.NOT_FOUND),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "l1.ivanova (L1) may not open an L3 case",
            RefusalKind.FORBIDDEN,
        ),
        (grpc.StatusCode.FAILED_PRECONDITION, "erased", RefusalKind.GONE),
        (grpc.StatusCode.UNAVAILABLE, "connection refused", RefusalKind.UNAVAILABLE),
        (grpc.StatusCode.UNAUTHENTICATED, "expired", RefusalKind.SIGNED_OUT),
    ],
)
async def test_the_vaults_status_becomes_a_refusal_before_any_content(
    code: grpc.StatusCode, details: str, kind: RefusalKind
) -> None:
    vault, stub = _vault([_Error(code, details)])
    with pytest.raises(Refused) as refused:
        await vault.open("token", "c-1", "a-1")
    assert refused.value.kind is kind and stub.call.cancelled
