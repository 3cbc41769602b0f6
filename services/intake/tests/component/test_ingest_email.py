"""E-mail from the gateway: replies land on their case, anything else becomes an EMAIL case."""

from __future__ import annotations

from email.message import EmailMessage

import grpc
import pytest
from intake_messages import PDF, metadata, submission

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

GATEWAY = metadata("mail-gateway", login=None)


def mail(subject: str, body: str = "Добрый день!", sender: str = "ivanov@example.ru") -> bytes:
    message = EmailMessage()
    message["From"] = f"Иван Иванов <{sender}>"
    message["To"] = "support@example.ru"
    message["Subject"] = subject
    message["Message-ID"] = "<m-77@example.ru>"
    message.set_content(body)
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="скан.pdf")
    return message.as_bytes()


def ingest(raw: bytes, key: str = "<m-77@example.ru>") -> intake_pb2.IngestEmailRequest:
    return intake_pb2.IngestEmailRequest(idempotency_key=key, raw_message=raw)


async def test_a_new_message_becomes_an_email_case(intake) -> None:
    raw = mail("Не приходит СМС-код", "Код подтверждения приходит с задержкой")
    reply = await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    assert reply.WhichOneof("outcome") == "created"
    (created,) = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert created.channel == types_pb2.EMAIL
    assert created.provenance.email == types_pb2.EmailOrigin(
        message_id="m-77@example.ru", from_address="ivanov@example.ru"
    )
    assert (created.citizen.email, created.citizen.full_name) == (
        "ivanov@example.ru",
        "Иван Иванов",
    )
    assert created.content.subject == "Не приходит СМС-код"
    assert created.category == types_pb2.TECHNICAL_FAULT
    assert [a.file_name for a in created.attachments] == ["скан.pdf"]
    assert reply.created.deadlines.HasField("first_response_due")


@pytest.mark.parametrize(
    "subject", ["Обращение в службу поддержки - {number}", "Re: ответ по заявке {number}"]
)
async def test_a_reply_naming_the_case_becomes_a_comment(intake, subject: str) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    raw = mail(subject.format(number=case.number), "Прикладываю документ")
    reply = await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    assert reply.WhichOneof("outcome") == "commented"
    assert reply.commented.number == case.number
    (comment,) = intake.cases.of_type(case_pb2.AddCommentRequest)
    assert (comment.case_id, comment.body, comment.public) == (
        case.case_id,
        "Прикладываю документ",
        True,
    )
    assert len(comment.attachments) == 1
    assert len(intake.cases.of_type(case_pb2.CreateCaseRequest)) == 1


async def test_mail_naming_somebody_elses_case_is_a_new_case_like_an_unknown_number(
    intake,
) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    raw = mail(f"Обращение в службу поддержки - {case.number}", sender="stranger@example.ru")
    reply = await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    assert reply.WhichOneof("outcome") == "created"
    assert reply.created.number != case.number
    assert case.number not in reply.created.text and not reply.created.linked_to_number
    assert not intake.cases.of_type(case_pb2.AddCommentRequest), "nothing lands on the case"


async def test_an_unknown_number_registers_a_new_case(intake) -> None:
    raw = mail("Обращение в службу поддержки - 2026-0999999")
    reply = await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    assert reply.WhichOneof("outcome") == "created"


async def test_a_redelivered_message_is_ingested_once(intake) -> None:
    raw = mail("Вопрос о статусе заявления")
    first = await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    again = await intake.stub.IngestEmail(ingest(raw), metadata=GATEWAY)
    assert first == again
    assert len(intake.cases.cases) == 1


async def test_a_message_with_a_forbidden_attachment_is_invalid(intake) -> None:
    message = EmailMessage()
    message["From"] = "ivanov@example.ru"
    message["Subject"] = "Вопрос"
    message.set_content("Текст")
    message.add_attachment(
        b"MZ\x90\x00", maintype="application", subtype="x-msdownload", filename="setup.exe"
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.IngestEmail(ingest(message.as_bytes()), metadata=GATEWAY)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not intake.cases.commands
