"""IngestEmail under hostile input, through the real server: the message is read off the event
loop within limits, so other calls go on, and a subject cannot make intake look up every number."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage

import grpc
import pytest
from intake_messages import PDF, metadata, submission

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_runtime.grpc_errors import field_violations

GATEWAY = metadata("mail-gateway", login=None)
# Far above what a call takes when nothing blocks (milliseconds), far below the seconds a 1 MB
# subject used to hold the event loop.
ANSWERED_WITHIN_S = 3.0


def raw_mail(subject: str = "Вопрос", body: str = "Добрый день!", html: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "Иван Иванов <ivanov@example.ru>"
    message["To"] = "support@example.ru"
    message["Subject"] = "placeholder"
    message["Message-ID"] = "<m-1@example.ru>"
    message.set_content(body, subtype="html" if html else "plain", cte="8bit")
    # Put the subject in verbatim: the stdlib would fold and encode it on the way out.
    return message.as_bytes().replace(b"Subject: placeholder", b"Subject: " + subject.encode())


def ingest(raw: bytes, key: str = "<m-1@example.ru>") -> intake_pb2.IngestEmailRequest:
    return intake_pb2.IngestEmailRequest(idempotency_key=key, raw_message=raw)


async def test_a_megabyte_subject_is_refused_without_stalling_other_calls(intake) -> None:
    started = time.monotonic()
    mail = asyncio.ensure_future(
        intake.stub.IngestEmail(ingest(raw_mail("слово " * 95_000)), metadata=GATEWAY)
    )
    # Each call is timed from when it was due, not from when the test got round to sending it:
    # the test shares the event loop with the server, so a blocked loop delays the sending too.
    latencies = []
    for due in (started + 0.05, started + 0.1, started + 0.2):
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await intake.stub.SubmitCase(submission(), metadata=metadata())
        latencies.append(time.monotonic() - due)
    assert max(latencies) < ANSWERED_WITHIN_S
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await mail
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    ((field, text),) = field_violations(refused.value)
    assert field == "raw_message"
    assert "Subject" in text and "8192 bytes" in text


async def test_a_large_message_is_read_while_other_calls_are_answered(intake) -> None:
    """A valid 2.7 MB HTML message takes the parser a second or so: on a worker, not the loop."""
    page = "<p>" + "текст письма <b>гражданина</b> " * 60_000 + "</p>"
    finished: list[str] = []

    async def call(name: str, rpc) -> None:  # type: ignore[no-untyped-def]
        try:
            await rpc
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # the text is too long
        finished.append(name)

    request = ingest(raw_mail(body=page, html=True))
    mail = asyncio.ensure_future(call("mail", intake.stub.IngestEmail(request, metadata=GATEWAY)))
    await asyncio.sleep(0.1)
    await call("case", intake.stub.SubmitCase(submission(), metadata=metadata()))
    await mail
    assert finished == ["case", "mail"]


async def test_a_subject_full_of_numbers_costs_a_few_lookups(intake) -> None:
    """Only the first candidates are looked up: the case named 600th is not even tried."""
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    decoys = " ".join(f"2026-{n:07d}" for n in range(500_000, 500_600))
    reply = await intake.stub.IngestEmail(
        ingest(raw_mail(f"Re: {decoys} {case.number}")), metadata=GATEWAY, timeout=30
    )
    assert reply.WhichOneof("outcome") == "created"
    assert not intake.cases.of_type(case_pb2.AddCommentRequest)


async def test_the_standard_reference_is_looked_up_first_among_many_numbers(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    decoys = " ".join(f"2026-{n:07d}" for n in range(500_000, 500_600))
    subject = f"Re: {decoys} Обращение в службу поддержки - {case.number}"
    reply = await intake.stub.IngestEmail(ingest(raw_mail(subject)), metadata=GATEWAY, timeout=30)
    assert reply.WhichOneof("outcome") == "commented"
    assert reply.commented.number == case.number


def _many_headers(count: int) -> bytes:
    extra = b"".join(b"X-Trace-%d: hop\r\n" % n for n in range(count))
    return raw_mail().replace(b"Subject:", extra + b"Subject:", 1)


def _long_header(size: int) -> bytes:
    return raw_mail().replace(b"Subject:", b"X-Long: " + b"a" * size + b"\r\nSubject:", 1)


def _many_parts(count: int) -> bytes:
    message = EmailMessage()
    message["From"] = "ivanov@example.ru"
    message["Subject"] = "Документы"
    message.set_content("Прикладываю")
    for n in range(count):
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"{n}.pdf")
    return message.as_bytes()


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (_many_headers(600), "header fields"),
        (_long_header(40_000), "header field"),
        (_many_parts(80), "MIME parts"),
    ],
    ids=["header-count", "header-length", "parts"],
)
async def test_a_message_over_a_limit_is_refused_naming_it(intake, raw: bytes, named: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    ((field, text),) = field_violations(refused.value)
    assert field == "raw_message" and named in text and "limit" in text
    assert not intake.cases.commands
