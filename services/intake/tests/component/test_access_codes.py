"""One-time codes for citizens without a portal account, sent through a real SMTP server and a
real HTTP SMS gateway: asked for without learning anything, expiring with tries, rate-limited."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from intake_messages import frontend_only, metadata, refusal, submission, with_code
from mail_and_sms import MailSink, SmsSink, code_in

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

MISSING = "2026-0999999"
MAIL = "mail-gateway"
SMS_TOKEN = "sms-gateway-token-1"


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def sms() -> Iterator[SmsSink]:
    sink = SmsSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def settings_overrides(mail: MailSink, sms: SmsSink) -> dict[str, object]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mail.port,
        "sms_gateway_url": sms.url,
        "sms_gateway_token": SMS_TOKEN,
        "access_code_case_burst": 3,
        "access_code_contact_burst": 4,
    }


async def _email_case(intake) -> intake_pb2.Acknowledgement:  # type: ignore[no-untyped-def]
    return await intake.stub.SubmitCase(submission("EMAIL"), metadata=metadata(MAIL))


async def _ask(intake, number: str, frontend: str = MAIL) -> intake_pb2.AccessCodeRequested:  # type: ignore[no-untyped-def]
    request = intake_pb2.RequestAccessCodeRequest(case_number=number)
    answer = await intake.stub.RequestAccessCode(request, metadata=frontend_only(frontend))
    await intake.parts.deliveries.drain()
    return answer


async def _read(intake, number: str, code: str, frontend: str = MAIL):  # type: ignore[no-untyped-def]
    return await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=number), metadata=with_code(frontend, code)
    )


async def test_an_email_citizen_follows_up_with_the_code_sent_to_him(intake, mail) -> None:
    case = await _email_case(intake)
    answer = await _ask(intake, case.number)
    assert answer.valid_for_s == 600 and "Код действует 10 минут" in answer.text
    (message,) = mail.messages
    assert message["To"] == "ivanov@example.ru"
    assert case.number in message["Subject"]
    code = code_in(message.get_content())
    view = await _read(intake, case.number, code)
    assert view.number == case.number
    comment = intake_pb2.AddCommentRequest(
        idempotency_key="c1", case_number=case.number, body="Дополняю"
    )
    await intake.stub.AddComment(comment, metadata=with_code(MAIL, code))
    (sent,) = intake.cases.of_type(case_pb2.AddCommentRequest)
    assert sent.context.actor.kind == types_pb2.Actor.CITIZEN
    assert sent.context.actor.id.startswith("citizen-ref:"), "no account: a pseudonym acts"


async def test_the_answer_is_the_same_whether_the_case_exists_or_not(intake, mail) -> None:
    case = await _email_case(intake)
    assert await _ask(intake, MISSING) == await _ask(intake, case.number)
    assert [m["To"] for m in mail.messages] == ["ivanov@example.ru"], "no mail for nothing"


async def test_a_wrong_code_and_a_missing_case_answer_alike(intake, mail) -> None:
    case = await _email_case(intake)
    await _ask(intake, case.number)
    code = mail.code_sent_to("ivanov@example.ru")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refusals = [
        await refusal(_read(intake, case.number, wrong)),
        await refusal(_read(intake, MISSING, code)),
        await refusal(_read(intake, MISSING, wrong)),
    ]
    answers = {(r.code(), r.details()) for r in refusals}
    assert len(answers) == 1
    ((status, details),) = answers
    assert status == grpc.StatusCode.NOT_FOUND and details.startswith("case not found")


async def test_the_tenth_wrong_code_locks_the_code_until_a_new_one_is_asked_for(
    intake, mail
) -> None:
    case = await _email_case(intake)
    await _ask(intake, case.number)
    code = mail.code_sent_to("ivanov@example.ru")
    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 11)]
    for guess in wrong[:9]:
        await refusal(_read(intake, case.number, guess))
    assert (await _read(intake, case.number, code)).number == case.number, "9 wrong: still open"
    await refusal(_read(intake, case.number, wrong[9]))
    locked = await refusal(_read(intake, case.number, code))
    assert locked.code() == grpc.StatusCode.NOT_FOUND, "the right code is refused once locked"
    mail.messages.clear()
    await _ask(intake, case.number)
    fresh = mail.code_sent_to("ivanov@example.ru")
    assert (await _read(intake, case.number, fresh)).number == case.number


async def test_a_code_opens_only_its_own_case(intake, mail) -> None:
    first, second = await _email_case(intake), await _email_case(intake)
    await _ask(intake, first.number)
    code = mail.code_sent_to("ivanov@example.ru")
    refused = await refusal(_read(intake, second.number, code))
    assert refused.code() == grpc.StatusCode.NOT_FOUND


async def test_a_phone_case_gets_its_code_by_sms(intake, sms) -> None:
    case = await intake.stub.SubmitCase(submission("PHONE"), metadata=metadata("contact-centre"))
    await _ask(intake, case.number, "contact-centre")
    ((fields, authorization),) = sms.received
    assert fields["to"] == "+79123456789" and authorization == f"Bearer {SMS_TOKEN}"
    code = code_in(fields["text"])
    assert (await _read(intake, case.number, code, "contact-centre")).number == case.number


async def test_a_frontend_gets_codes_only_for_its_channels_cases(intake, mail, sms) -> None:
    phone_case = await intake.stub.SubmitCase(
        submission("PHONE"), metadata=metadata("contact-centre")
    )
    portal_case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    await _ask(intake, phone_case.number, MAIL)  # the mail gateway serves EMAIL only
    await _ask(intake, portal_case.number, "desk-all")  # portal citizens sign in instead
    assert not mail.messages and not sms.received


async def test_portal_frontends_neither_ask_for_nor_forward_codes(intake) -> None:
    request = intake_pb2.RequestAccessCodeRequest(case_number=MISSING)
    asked = await refusal(
        intake.stub.RequestAccessCode(request, metadata=frontend_only("portal-chat"))
    )
    forwarded = await refusal(_read(intake, MISSING, "123456", "portal-chat"))
    assert asked.code() == forwarded.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "x-case-access-code" in forwarded.details()


async def test_a_code_holder_does_not_list_cases_or_open_new_ones(intake) -> None:
    listing = await refusal(
        intake.stub.ListMyCases(intake_pb2.ListMyCasesRequest(), metadata=with_code(MAIL, "1" * 6))
    )
    assert listing.code() == grpc.StatusCode.PERMISSION_DENIED
    new = await refusal(
        intake.stub.SubmitCase(submission("EMAIL"), metadata=with_code(MAIL, "123456"))
    )
    assert new.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef"])
async def test_a_malformed_code_is_unauthenticated(intake, code: str) -> None:
    error = await refusal(_read(intake, MISSING, code))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "six digits" in error.details()


async def test_requests_per_case_number_are_limited_alike_for_any_number(intake, mail) -> None:
    case = await _email_case(intake)
    for number in (case.number, MISSING):
        for _ in range(3):
            await _ask(intake, number)
        limited = await refusal(_ask(intake, number))
        assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "case number" in limited.details()
    assert len(mail.messages) == 3


@pytest.mark.parametrize(
    "settings_overrides",
    [{"smtp_host": "127.0.0.1", "smtp_port": 1, "access_code_contact_burst": 1}],
)
async def test_a_failed_delivery_answers_like_any_request(intake, caplog) -> None:
    case = await _email_case(intake)
    answer = await _ask(intake, case.number)
    assert answer.valid_for_s == 600
    failures = [r for r in caplog.records if r.getMessage() == "access code not sent"]
    assert failures and "ivanov@example.ru" not in str(vars(failures[0]))


async def test_codes_per_contact_are_limited_silently(intake, mail) -> None:
    first, second = await _email_case(intake), await _email_case(intake)
    asked = [first.number] * 3 + [second.number] * 2  # within each number's limit of 3
    answers = {(await _ask(intake, number)).SerializeToString() for number in asked}
    assert len(answers) == 1, "a limited contact is not told apart"
    assert len(mail.messages) == 4, "the same address got its 4 codes, no fifth"
