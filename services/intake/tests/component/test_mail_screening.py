"""Automatic, list and forged mail naming a case never becomes the citizen's comment (which would
resume the case's SLA clock) nor a case (whose notices would answer a robot): it is accepted and
answered `ignored` with its reason. A citizen's own reply still becomes his comment."""

from __future__ import annotations

import functools
from email.message import EmailMessage

import grpc
import pytest
from intake_messages import metadata, refusal, submission

import casedesk_intake.__main__ as composition
from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.application.mail_intake import MailIntake, MailIntakeConfig
from casedesk_intake.settings import IntakeSettings
from casedesk_runtime.testing.metrics import scrape

GATEWAY = metadata("mail-gateway", login=None)
GATEWAY_ID = "mx.gov.example"
IGNORED = intake_pb2.MailIgnored


def reply_to_case(number: str, headers: dict[str, str], subject: str = "") -> bytes:
    message = EmailMessage()
    message["From"] = "Иван Иванов <ivanov@example.ru>"
    message["To"] = "support@example.ru"
    message["Subject"] = subject or f"Re: Обращение в службу поддержки - {number}"
    message["Message-ID"] = "<reply-1@example.ru>"
    for name, value in headers.items():
        message[name] = value
    message.set_content("Я в отпуске до понедельника.")
    return message.as_bytes()


async def _ingest(intake, headers: dict[str, str], subject: str = ""):  # type: ignore[no-untyped-def]
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    raw = reply_to_case(case.number, headers, subject.format(number=case.number))
    request = intake_pb2.IngestEmailRequest(idempotency_key="<reply-1@example.ru>", raw_message=raw)
    return await intake.stub.IngestEmail(request, metadata=GATEWAY)


def assert_nothing_reached_the_case(intake) -> None:  # type: ignore[no-untyped-def]
    assert not intake.cases.of_type(case_pb2.AddCommentRequest)
    assert len(intake.cases.of_type(case_pb2.CreateCaseRequest)) == 1  # the case itself


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "", IGNORED.AUTOMATIC),
        ({"Auto-Submitted": "auto-generated (vacation)"}, "", IGNORED.AUTOMATIC),
        ({"X-Autoreply": "yes"}, "", IGNORED.AUTOMATIC),
        ({"X-Autorespond": "Out of office"}, "", IGNORED.AUTOMATIC),
        ({"Precedence": "auto_reply"}, "", IGNORED.AUTOMATIC),
        ({"Return-Path": "<>"}, "", IGNORED.AUTOMATIC),
        ({}, "Автоматический ответ: Обращение в службу поддержки - {number}", IGNORED.AUTOMATIC),
        ({}, "Out of Office: Обращение в службу поддержки - {number}", IGNORED.AUTOMATIC),
        ({"Precedence": "bulk"}, "", IGNORED.BULK),
        ({"Precedence": "list"}, "", IGNORED.BULK),
        ({"Precedence": "junk"}, "", IGNORED.BULK),
        ({"List-Id": "Новости <news.example.ru>"}, "", IGNORED.BULK),
        ({"List-Unsubscribe": "<mailto:leave@example.ru>"}, "", IGNORED.BULK),
    ],
    ids=[
        "auto-replied",
        "auto-generated",
        "x-autoreply",
        "x-autorespond",
        "precedence-auto-reply",
        "null-return-path",
        "out-of-office-ru",
        "out-of-office-en",
        "bulk",
        "list",
        "junk",
        "list-id",
        "list-unsubscribe",
    ],
)
async def test_automatic_and_list_mail_is_ignored(intake, headers, subject, reason) -> None:
    reply = await _ingest(intake, headers, subject)
    assert reply.WhichOneof("outcome") == "ignored"
    assert reply.ignored.reason == reason and reply.ignored.detail
    assert_nothing_reached_the_case(intake)


async def test_a_delivery_report_is_ignored(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.ru>\r\n"
        f"Subject: Undelivered Mail: Обращение в службу поддержки - {case.number}\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
    ).encode()
    request = intake_pb2.IngestEmailRequest(idempotency_key="dsn-1", raw_message=raw)
    reply = await intake.stub.IngestEmail(request, metadata=GATEWAY)
    assert (reply.WhichOneof("outcome"), reply.ignored.reason) == ("ignored", IGNORED.AUTOMATIC)
    assert_nothing_reached_the_case(intake)


async def test_a_redelivered_ignored_message_gets_the_same_answer(intake) -> None:
    first = await _ingest(intake, {"Auto-Submitted": "auto-replied"})
    (case,) = intake.cases.cases.values()
    raw = reply_to_case(case.number, {"Auto-Submitted": "auto-replied"})
    request = intake_pb2.IngestEmailRequest(idempotency_key="<reply-1@example.ru>", raw_message=raw)
    again = await intake.stub.IngestEmail(request, metadata=GATEWAY)
    assert first == again
    assert_nothing_reached_the_case(intake)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Auto-Submitted": "no"}, {"Precedence": "first-class"}],
    ids=["plain", "auto-submitted-no", "other-precedence"],
)
async def test_a_citizens_reply_still_becomes_his_comment(intake, headers) -> None:
    reply = await _ingest(intake, headers)
    assert reply.WhichOneof("outcome") == "commented"
    assert len(intake.cases.of_type(case_pb2.AddCommentRequest)) == 1


def _reply(number: str, key: str, headers: dict[str, str]) -> intake_pb2.IngestEmailRequest:
    return intake_pb2.IngestEmailRequest(
        idempotency_key=key, raw_message=reply_to_case(number, headers)
    )


@pytest.mark.parametrize("settings_overrides", [{"citizen_rate_per_s": 0.001, "citizen_burst": 2}])
async def test_ignored_mail_does_not_spend_the_senders_rate_limit(intake) -> None:
    """An out-of-office robot (or anyone writing as the citizen) answering over and over must
    not get the citizen's own reply refused: ignored mail takes from the gateway's bucket only."""
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    before = scrape()
    for n in range(4):
        robot = _reply(case.number, f"<auto-{n}@example.ru>", {"Auto-Submitted": "auto-replied"})
        reply = await intake.stub.IngestEmail(robot, metadata=GATEWAY)
        assert reply.WhichOneof("outcome") == "ignored"
    ignored = scrape().value("intake_mail_ignored_total", reason="AUTOMATIC")
    assert ignored - before.value("intake_mail_ignored_total", reason="AUTOMATIC") == 4
    for n in range(2):  # his burst: his own replies still count
        own = await intake.stub.IngestEmail(
            _reply(case.number, f"<own-{n}@example.ru>", {}), metadata=GATEWAY
        )
        assert own.WhichOneof("outcome") == "commented"
    refused = await refusal(
        intake.stub.IngestEmail(_reply(case.number, "<own-2@example.ru>", {}), metadata=GATEWAY)
    )
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(intake.cases.of_type(case_pb2.AddCommentRequest)) == 2


@pytest.fixture
def trusted_gateway(settings_overrides: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Intake configured with the gateway's authserv-id (before `intake` is built)."""
    if "mail_trusted_authserv_ids" in IntakeSettings.model_fields:
        settings_overrides["mail_trusted_authserv_ids"] = [GATEWAY_ID]
    else:  # until the composition root reads CASEDESK_MAIL_TRUSTED_AUTHSERV_IDS: then remove
        config = MailIntakeConfig(trusted_authserv_ids=frozenset({GATEWAY_ID}))
        monkeypatch.setattr(composition, "MailIntake", functools.partial(MailIntake, config=config))


@pytest.mark.parametrize(
    "results",
    [
        f"{GATEWAY_ID}; dkim=pass header.d=example.ru; spf=pass; dmarc=fail (p=reject)",
        f"{GATEWAY_ID} 1; spf=fail (sender IP not authorized) smtp.mailfrom=example.ru",
        f"{GATEWAY_ID}; dkim=fail (bad signature) header.d=example.ru",
    ],
    ids=["dmarc", "spf", "dkim"],
)
async def test_mail_failing_the_gateways_checks_is_ignored(
    trusted_gateway, intake, results
) -> None:
    reply = await _ingest(intake, {"Authentication-Results": results})
    assert reply.WhichOneof("outcome") == "ignored"
    assert reply.ignored.reason == IGNORED.FAILED_AUTHENTICATION
    assert_nothing_reached_the_case(intake)


@pytest.mark.parametrize(
    "results",
    [
        "mx.attacker.example; dmarc=fail",  # somebody else's verdict: anyone can write it
        f"{GATEWAY_ID}; spf=fail smtp.mailfrom=example.ru; dkim=pass; dmarc=pass",
        f"{GATEWAY_ID}; dkim=pass; spf=softfail; dmarc=none",
    ],
    ids=["untrusted-id", "dmarc-pass-despite-forwarding", "no-failure"],
)
async def test_mail_passing_or_judged_by_others_still_becomes_a_comment(
    trusted_gateway, intake, results
) -> None:
    reply = await _ingest(intake, {"Authentication-Results": results})
    assert reply.WhichOneof("outcome") == "commented"


async def test_without_a_configured_gateway_results_are_not_trusted(intake) -> None:
    reply = await _ingest(intake, {"Authentication-Results": f"{GATEWAY_ID}; dmarc=fail"})
    assert reply.WhichOneof("outcome") == "commented"
