"""The citizen's own cases: comment, repeat, escalation, reading and listing."""

from __future__ import annotations

import grpc
import pytest
from intake_messages import metadata, submission, upload

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2


@pytest.fixture
async def case(intake) -> intake_pb2.Acknowledgement:
    return await intake.stub.SubmitCase(submission(), metadata=metadata())


async def test_a_comment_is_public_and_from_the_citizen(intake, case) -> None:
    comment = intake_pb2.AddCommentRequest(
        idempotency_key="c1", case_number=case.number, body="  Прикладываю скан  "
    )
    comment.attachments.append(upload())
    reply = await intake.stub.AddComment(comment, metadata=metadata())
    (sent,) = intake.cases.of_type(case_pb2.AddCommentRequest)
    assert (sent.case_id, sent.body, sent.public) == (case.case_id, "Прикладываю скан", True)
    assert sent.context.actor == types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="ivanov.ii")
    assert len(sent.attachments) == 1 and sent.attachments[0].sha256
    assert [(c.body, c.from_support) for c in reply.comments] == [("Прикладываю скан", False)]


async def test_the_citizen_sees_support_replies_but_not_internal_notes(intake, case) -> None:
    intake.cases.reply_as_specialist(case.number, "Проверьте почту", public=True)
    intake.cases.reply_as_specialist(case.number, "внутренняя заметка", public=False)
    intake.cases.set_status(case.number, types_pb2.IN_PROGRESS)
    view = await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=case.number), metadata=metadata()
    )
    assert [(c.body, c.from_support) for c in view.comments] == [("Проверьте почту", True)]
    assert (view.status, view.status_label) == (types_pb2.IN_PROGRESS, "В работе")
    assert view.subject == "Не могу войти в личный кабинет"
    assert view.channel == types_pb2.PERSONAL_ACCOUNT


async def test_an_unknown_case_is_not_found(intake) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.GetCase(
            intake_pb2.GetCaseRequest(case_number="2026-0999999"), metadata=metadata()
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_repeat_of_an_answered_case_is_acknowledged_as_a_new_case(intake, case) -> None:
    intake.cases.set_status(case.number, types_pb2.ANSWER_READY)
    request = intake_pb2.RepeatCaseRequest(
        idempotency_key="r1", case_number=case.number, reason="Ответ не решил проблему"
    )
    reply = await intake.stub.RepeatCase(request, metadata=metadata())
    assert reply.number != case.number and reply.status == types_pb2.REGISTERED
    assert f"повторное обращение по заявке № {case.number}" in reply.text
    assert reply.deadlines.HasField("resolution_due")
    (sent,) = intake.cases.of_type(case_pb2.RepeatCaseRequest)
    assert (sent.case_id, sent.reason) == (case.case_id, "Ответ не решил проблему")


async def test_repeat_of_an_open_case_is_refused_by_the_case_service(intake, case) -> None:
    request = intake_pb2.RepeatCaseRequest(
        idempotency_key="r1", case_number=case.number, reason="x"
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.RepeatCase(request, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "reason",
    [events_pb2.NO_ANSWER_IN_TIME, events_pb2.UNSATISFYING_ANSWER, events_pb2.CRITICAL_ERROR],
)
async def test_the_citizen_may_ask_for_escalation(intake, case, reason: int) -> None:
    request = intake_pb2.RequestEscalationRequest(
        idempotency_key="e1", case_number=case.number, reason=reason, explanation="Жду неделю"
    )
    reply = await intake.stub.RequestEscalation(request, metadata=metadata())
    assert reply.number == case.number
    (sent,) = intake.cases.of_type(case_pb2.RequestEscalationRequest)
    assert (sent.case_id, sent.reason, sent.explanation) == (case.case_id, reason, "Жду неделю")


async def test_listing_shows_only_the_citizens_cases_page_by_page(intake) -> None:
    for _ in range(3):
        await intake.stub.SubmitCase(submission(), metadata=metadata())
    await intake.stub.SubmitCase(submission(), metadata=metadata(login="petrov.pp"))
    first = await intake.stub.ListMyCases(
        intake_pb2.ListMyCasesRequest(page_size=2), metadata=metadata()
    )
    rest = await intake.stub.ListMyCases(
        intake_pb2.ListMyCasesRequest(page_size=2, page_token=first.next_page_token),
        metadata=metadata(),
    )
    numbers = [c.number for c in (*first.cases, *rest.cases)]
    assert len(numbers) == len(set(numbers)) == 3 and not rest.next_page_token
    assert all(c.status_label == "Зарегистрирована" for c in first.cases)
