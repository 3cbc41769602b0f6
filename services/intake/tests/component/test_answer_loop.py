"""The citizen confirms or rates the answer, from any channel, proven as on every follow-up: his
portal token, a one-time code, or the operator who identified him (issue 19, item 3)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from intake_messages import as_operator, frontend_only, metadata, refusal, submission, with_code
from mail_and_sms import MailSink, code_in

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2

MAIL = "mail-gateway"


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def settings_overrides(mail: MailSink) -> dict[str, object]:
    return {"smtp_host": "127.0.0.1", "smtp_port": mail.port}


async def _answered(intake, channel: str = "PERSONAL_ACCOUNT", frontend: str = "desk-all") -> str:  # type: ignore[no-untyped-def]
    """A case of `channel` at «Ответ готов», after a specialist's public answer: its number."""
    sent = metadata(frontend) if channel != "PHONE" else as_operator(frontend)
    case = await intake.stub.SubmitCase(submission(channel), metadata=sent)
    intake.cases.reply_as_specialist(case.number, "Сбросьте пароль по ссылке")
    intake.cases.set_status(case.number, types_pb2.ANSWER_READY)
    return case.number


def _confirm(number: str, key: str = "k-confirm") -> intake_pb2.ConfirmAnswerRequest:
    return intake_pb2.ConfirmAnswerRequest(idempotency_key=key, case_number=number)


def _rate(number: str, score: int = 5, comment: str = "Помогли", key: str = "k-rate"):  # type: ignore[no-untyped-def]
    return intake_pb2.RateAnswerRequest(
        idempotency_key=key, case_number=number, score=score, comment=comment
    )


def _violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "a BadRequest is expected in the details"
    found = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


async def test_a_portal_citizen_confirms_the_answer_and_the_case_is_closed(intake) -> None:
    number = await _answered(intake, frontend="personal-account")
    before = await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=number), metadata=metadata("personal-account")
    )
    assert (before.can_rate, before.can_repeat, before.rating) == (True, True, 0)
    reply = await intake.stub.ConfirmAnswer(_confirm(number), metadata=metadata("personal-account"))
    assert (reply.status, reply.status_label) == (types_pb2.CLOSED, "Закрыта")
    (sent,) = intake.cases.of_type(case_pb2.ConfirmAnswerRequest)
    assert sent.case_id == intake.cases.by_number(number).case_id
    assert sent.context.actor == types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="ivanov.ii")
    assert sent.context.idempotency_key.startswith("intake-") and not sent.context.identified_by


async def test_a_case_closed_as_spam_offers_no_rating(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    intake.cases.set_status(case.number, types_pb2.CLOSED, events_pb2.SPAM)
    view = await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=case.number), metadata=metadata()
    )
    assert (view.status, view.can_rate) == (types_pb2.CLOSED, False)


async def test_a_rating_goes_with_the_frontends_channel_and_shows_in_the_case(intake) -> None:
    number = await _answered(intake, "PERSONAL_ACCOUNT")
    # The chat frontend serves one channel: the rating came by chat, whatever the case's channel.
    reply = await intake.stub.RateAnswer(
        _rate(number, 4, "  Помогли, но долго  "), metadata=metadata("portal-chat")
    )
    (sent,) = intake.cases.of_type(case_pb2.RateAnswerRequest)
    assert (sent.score, sent.comment, sent.channel) == (
        4,
        "Помогли, но долго",
        types_pb2.PORTAL_CHAT,
    )
    assert sent.context.actor.kind == types_pb2.Actor.CITIZEN
    assert (reply.rating, reply.can_rate, reply.can_repeat) == (4, False, True)


async def test_a_frontend_of_several_channels_rates_from_the_cases_own(intake) -> None:
    number = await _answered(intake, "PERSONAL_ACCOUNT")
    await intake.stub.RateAnswer(_rate(number), metadata=metadata("desk-all"))
    (sent,) = intake.cases.of_type(case_pb2.RateAnswerRequest)
    assert sent.channel == types_pb2.PERSONAL_ACCOUNT


async def test_an_email_citizen_rates_with_the_code_sent_to_him(intake, mail) -> None:
    number = await _answered(intake, "EMAIL", MAIL)
    await intake.stub.RequestAccessCode(
        intake_pb2.RequestAccessCodeRequest(case_number=number), metadata=frontend_only(MAIL)
    )
    await intake.parts.deliveries.drain()
    code = code_in(mail.messages[-1].get_content())
    reply = await intake.stub.RateAnswer(_rate(number, 2), metadata=with_code(MAIL, code))
    assert reply.rating == 2
    (sent,) = intake.cases.of_type(case_pb2.RateAnswerRequest)
    assert sent.channel == types_pb2.EMAIL
    assert sent.context.actor.id.startswith("citizen-ref:"), "no login: his pseudonym"
    wrong = "000000" if code != "000000" else "111111"
    refused = await refusal(
        intake.stub.ConfirmAnswer(_confirm(number), metadata=with_code(MAIL, wrong))
    )
    assert refused.code() == grpc.StatusCode.NOT_FOUND
    assert not intake.cases.of_type(case_pb2.ConfirmAnswerRequest)


async def test_an_operator_confirms_for_the_caller_and_is_recorded(intake) -> None:
    number = await _answered(intake, "PHONE", "contact-centre")
    await intake.stub.ConfirmAnswer(_confirm(number), metadata=as_operator("contact-centre"))
    (sent,) = intake.cases.of_type(case_pb2.ConfirmAnswerRequest)
    assert sent.context.identified_by == "l1.ivanova"
    assert sent.context.actor.kind == types_pb2.Actor.CITIZEN


@pytest.mark.parametrize("rpc", ["ConfirmAnswer", "RateAnswer"])
async def test_another_citizens_case_answers_like_a_missing_one(intake, rpc: str) -> None:
    number = await _answered(intake)
    request = _confirm(number) if rpc == "ConfirmAnswer" else _rate(number)
    refused = await refusal(
        getattr(intake.stub, rpc)(request, metadata=metadata(login="petrov.pp"))
    )
    assert (refused.code(), refused.details()) == (grpc.StatusCode.NOT_FOUND, "case not found")
    missing = type(request)()
    missing.CopyFrom(request)
    missing.case_number = "2026-0999999"
    refused = await refusal(getattr(intake.stub, rpc)(missing, metadata=metadata()))
    assert (refused.code(), refused.details()) == (grpc.StatusCode.NOT_FOUND, "case not found")


@pytest.mark.parametrize("rpc", ["ConfirmAnswer", "RateAnswer"])
async def test_without_a_proof_of_the_citizen_it_is_unauthenticated(intake, rpc: str) -> None:
    number = await _answered(intake)
    request = _confirm(number) if rpc == "ConfirmAnswer" else _rate(number)
    refused = await refusal(getattr(intake.stub, rpc)(request, metadata=frontend_only("desk-all")))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("score", "comment", "field", "words"),
    [
        (0, "", "score", "must be 1 to 5"),
        (6, "", "score", "must be 1 to 5"),
        (-1, "", "score", "must be 1 to 5"),
        (5, "я" * 2001, "comment", "longer than 2000 characters"),
        (5, "стоп\x00", "comment", "control characters"),
    ],
)
async def test_a_bad_rating_is_refused_at_the_edge_naming_its_field(
    intake, score: int, comment: str, field: str, words: str
) -> None:
    number = await _answered(intake)
    refused = await refusal(
        intake.stub.RateAnswer(_rate(number, score, comment), metadata=metadata())
    )
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in _violations(refused)[field]
    assert not intake.cases.of_type(case_pb2.RateAnswerRequest), "nothing reached the case"


async def test_a_comment_of_exactly_2000_characters_is_taken(intake) -> None:
    number = await _answered(intake)
    await intake.stub.RateAnswer(_rate(number, 5, "я" * 2000), metadata=metadata())
    (sent,) = intake.cases.of_type(case_pb2.RateAnswerRequest)
    assert len(sent.comment) == 2000


@pytest.mark.parametrize("rpc", ["ConfirmAnswer", "RateAnswer"])
async def test_the_number_and_key_are_checked(intake, rpc: str) -> None:
    request = (
        intake_pb2.ConfirmAnswerRequest(idempotency_key="", case_number="12")
        if rpc == "ConfirmAnswer"
        else intake_pb2.RateAnswerRequest(idempotency_key="", case_number="12", score=3)
    )
    refused = await refusal(getattr(intake.stub, rpc)(request, metadata=metadata()))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(_violations(refused)) == {"idempotency_key", "case_number"}


async def test_confirming_a_case_not_at_answer_ready_is_explained(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    refused = await refusal(intake.stub.ConfirmAnswer(_confirm(case.number), metadata=metadata()))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.details().startswith("only an answer at ANSWER_READY («Ответ готов»)")
    assert "(the case service: the case is not at ANSWER_READY)" in refused.details()


async def test_a_second_rating_is_refused_and_its_details_stay_readable(intake) -> None:
    number = await _answered(intake)
    await intake.stub.RateAnswer(_rate(number, 5, key="first"), metadata=metadata())
    refused = await refusal(
        intake.stub.RateAnswer(_rate(number, 1, key="second"), metadata=metadata())
    )
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.details().startswith("an answer can be rated once")


async def test_the_case_services_details_survive_intakes_wording(intake) -> None:
    """A precondition refusal restated by intake keeps the case service's google.rpc details,
    and its message agrees with the status (rpc_status.from_call checks both)."""
    number = await _answered(intake)
    violation = error_details_pb2.PreconditionFailure.Violation(
        type="NOT_ANSWER_READY", subject="case", description="closed already"
    )
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.PreconditionFailure(violations=[violation]))
    intake.cases.refuse_next["ConfirmAnswer"] = rpc_status.to_status(
        status_pb2.Status(
            code=code_pb2.FAILED_PRECONDITION, message="closed already", details=[packed]
        )
    )
    refused = await refusal(intake.stub.ConfirmAnswer(_confirm(number), metadata=metadata()))
    status = rpc_status.from_call(refused)  # type: ignore[arg-type]
    assert status is not None and status.message == refused.details()
    assert refused.details().endswith("(the case service: closed already)")
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[0].Unpack(failure)
    assert failure.violations[0].type == "NOT_ANSWER_READY"


async def test_a_retry_returns_the_original_and_another_request_under_its_key_is_refused(
    intake,
) -> None:
    number = await _answered(intake)
    first = await intake.stub.RateAnswer(_rate(number, 5, key="same"), metadata=metadata())
    again = await intake.stub.RateAnswer(_rate(number, 5, key="same"), metadata=metadata())
    assert again == first
    assert len(intake.cases.of_type(case_pb2.RateAnswerRequest)) == 1
    refused = await refusal(
        intake.stub.RateAnswer(_rate(number, 3, key="same"), metadata=metadata())
    )
    assert refused.code() == grpc.StatusCode.ALREADY_EXISTS
    confirmed = await intake.stub.ConfirmAnswer(_confirm(number, "c"), metadata=metadata())
    retried = await intake.stub.ConfirmAnswer(_confirm(number, "c"), metadata=metadata())
    assert retried == confirmed


async def test_a_refused_call_leaves_its_key_unused(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    await refusal(intake.stub.ConfirmAnswer(_confirm(case.number, "later"), metadata=metadata()))
    intake.cases.set_status(case.number, types_pb2.ANSWER_READY)
    reply = await intake.stub.ConfirmAnswer(_confirm(case.number, "later"), metadata=metadata())
    assert reply.status == types_pb2.CLOSED
