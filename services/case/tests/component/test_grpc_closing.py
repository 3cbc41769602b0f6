"""The end of a case through gRPC: ConfirmAnswer, RateAnswer, CloseCase, MergeCases,
RecordCallback, the repeat of an overdue case and what the views and the history carry; who may
call them (the access table, by certificate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_case.application.timeline import ClockState
from casedesk_case.testing.case_timeline import FixedClocks
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningService
from .messages import CITIZEN, SPECIALIST, context, create_request, reply, status
from .test_grpc_people import as_person, bare, refused, token_of


def supervisor(idp: FakeIdentityProvider) -> list[tuple[str, str]]:
    return as_person(idp.mint(username="super.orlova", roles=["supervisor"]))


async def answered(service: RunningService, channel: int = types_pb2.SOCIAL) -> str:
    request = create_request()
    request.channel = channel  # type: ignore[assignment]
    case_id = (await service.stub.CreateCase(request)).case_id
    await service.stub.ChangeStatus(status(case_id, pb.TAKE_IN_WORK))
    await service.stub.AddComment(reply(case_id))
    await service.stub.ChangeStatus(status(case_id, pb.ANSWER_READY_ACTION))
    return case_id


def fields(error: grpc.aio.AioRpcError) -> list[str]:
    return [field for field, _ in field_violations(error)]


async def history(service: RunningService, case_id: str) -> list[Any]:
    page = await service.stub.GetHistory(pb.GetHistoryRequest(case_id=case_id))
    return list(page.events)


# -- the citizen's word -----------------------------------------------------------------------


async def test_the_citizen_rates_and_confirms_the_answer(service: RunningService) -> None:
    case_id = await answered(service)
    rated = await service.stub.RateAnswer(pb.RateAnswerRequest(
        context=context(**CITIZEN, key="rate-1"), case_id=case_id, score=4, comment="помогло",
        channel=types_pb2.PORTAL_CHAT,
    ))  # fmt: skip
    assert (rated.rating.score, rated.rating.comment, rated.rating.channel) == (
        4, "помогло", types_pb2.PORTAL_CHAT,
    )  # fmt: skip
    confirmed = await service.stub.ConfirmAnswer(
        pb.ConfirmAnswerRequest(context=context(**CITIZEN, key="confirm-1"), case_id=case_id)
    )
    assert (confirmed.status, confirmed.close_reason) == (
        types_pb2.CLOSED,
        events_pb2.ANSWER_CONFIRMED,
    )
    events = await history(service, case_id)
    rating, closing = events[-2:]
    assert rating.WhichOneof("payload") == "answer_rated" and rating.answer_rated.score == 4
    assert closing.status_changed.close_reason == events_pb2.ANSWER_CONFIRMED
    assert closing.meta.actor.kind == types_pb2.Actor.CITIZEN
    again = await refused(service.stub.RateAnswer(
        pb.RateAnswerRequest(context=context(**CITIZEN), case_id=case_id, score=5)
    ))  # fmt: skip
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already rated" in (again.details() or "")


async def test_a_rating_out_of_range_or_too_long_names_its_fields(service: RunningService) -> None:
    case_id = await answered(service)
    error = await refused(service.stub.RateAnswer(pb.RateAnswerRequest(
        context=context(**CITIZEN), case_id=case_id, score=6, comment="я" * 2001,
    )))  # fmt: skip
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields(error) == ["score", "comment"]


async def test_confirm_before_the_answer_and_by_anybody_but_the_citizen(
    service: RunningService,
) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    early = await refused(service.stub.ConfirmAnswer(
        pb.ConfirmAnswerRequest(context=context(**CITIZEN), case_id=case_id)
    ))  # fmt: skip
    assert early.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "only an answer at ANSWER_READY" in (early.details() or "")
    answered_id = await answered(service)
    system = await refused(service.stub.ConfirmAnswer(
        pb.ConfirmAnswerRequest(context=context(), case_id=answered_id)
    ))  # fmt: skip
    assert system.code() == grpc.StatusCode.PERMISSION_DENIED


# -- a supervisor's closing and merging -------------------------------------------------------


async def test_a_supervisor_closes_spam_with_an_explanation(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    close = pb.CloseCaseRequest(
        context=bare(), case_id=case_id, reason=events_pb2.SPAM, explanation="реклама"
    )
    specialist = await refused(
        service.stub.CloseCase(close, metadata=as_person(token_of(idp, "l3.sidorova")))
    )
    assert specialist.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "only supervisors do" in (specialist.details() or "")
    closed = await service.stub.CloseCase(close, metadata=supervisor(idp))
    assert (closed.status, closed.close_reason) == (types_pb2.CLOSED, events_pb2.SPAM)
    last = (await history(service, case_id))[-1]
    assert (last.status_changed.reason, last.meta.actor.id) == ("реклама", "super.orlova")
    twice = await refused(service.stub.CloseCase(
        pb.CloseCaseRequest(context=bare(), case_id=case_id, reason=events_pb2.SPAM,
                            explanation="ещё раз"), metadata=supervisor(idp),
    ))  # fmt: skip
    assert twice.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_close_case_refuses_another_reason_and_no_explanation(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    error = await refused(service.stub.CloseCase(
        pb.CloseCaseRequest(context=bare(), case_id=case_id, reason=events_pb2.DUPLICATE),
        metadata=supervisor(idp),
    ))  # fmt: skip
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields(error) == ["reason", "explanation"]


async def test_a_supervisor_merges_a_duplicate_of_the_same_citizen(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    duplicate = (await service.stub.CreateCase(create_request())).case_id
    target = (await service.stub.CreateCase(create_request())).case_id
    stranger = (await service.stub.CreateCase(create_request(login="sidorov.ss"))).case_id

    def merge(into: str, key: str = "") -> pb.MergeCasesRequest:
        return pb.MergeCasesRequest(
            context=bare(key), duplicate_case_id=duplicate, target_case_id=into, reason="дубль"
        )

    for into in (duplicate, stranger):
        error = await refused(service.stub.MergeCases(merge(into), metadata=supervisor(idp)))
        assert (error.code(), fields(error)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["target_case_id"],
        )
    merged = await service.stub.MergeCases(merge(target, "merge-1"), metadata=supervisor(idp))
    assert (merged.case_id, list(merged.merged_duplicates)) == (target, [duplicate])
    retried = await service.stub.MergeCases(merge(target, "merge-1"), metadata=supervisor(idp))
    assert retried == merged
    gone = await service.stub.GetCase(pb.GetCaseRequest(case_id=duplicate))
    assert (gone.status, gone.close_reason, gone.merged_into) == (
        types_pb2.CLOSED, events_pb2.DUPLICATE, target,
    )  # fmt: skip
    into, closing = (await history(service, duplicate))[-2:]
    assert (into.merged_into.target_case_id, into.merged_into.target_number) == (
        target, merged.number,
    )  # fmt: skip
    assert closing.status_changed.close_reason == events_pb2.DUPLICATE
    taken = (await history(service, target))[-1]
    assert taken.duplicate_merged.duplicate_case_id == duplicate
    closed_target = await refused(service.stub.MergeCases(
        pb.MergeCasesRequest(context=bare(), duplicate_case_id=target,
                             target_case_id=duplicate), metadata=supervisor(idp),
    ))  # fmt: skip
    assert closed_target.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "merge into an open case" in (closed_target.details() or "")


# -- callbacks --------------------------------------------------------------------------------


async def test_a_phone_case_owes_a_callback_until_one_reaches_the_citizen(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    request = create_request()
    request.channel = types_pb2.PHONE  # type: ignore[assignment]
    # A call from abroad, with how the operator identified the caller (a repeated field).
    checks = [types_pb2.PROFILE_MOBILE_NUMBER, types_pb2.SMS_ONE_TIME_CODE]
    request.provenance.phone.from_abroad = True
    request.provenance.phone.caller_checks.extend(checks)
    case = await service.stub.CreateCase(request)
    assert list(case.provenance.phone.caller_checks) == checks
    stored = await service.stub.GetCase(pb.GetCaseRequest(case_id=case.case_id))
    assert list(stored.provenance.phone.caller_checks) == checks
    due = case.callback_due.ToDatetime(UTC)
    assert case.callback_purpose == "FIRST_RESPONSE"
    assert due - case.registered_at.ToDatetime(UTC) == timedelta(minutes=30)
    service.projector.catch_up()
    owed = await service.stub.ListCases(pb.ListCasesRequest(callback_owed=True))
    assert [(c.case_id, c.callback_due, c.callback_purpose) for c in owed.cases] == [
        (case.case_id, case.callback_due, "FIRST_RESPONSE")
    ]
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    missed = await service.stub.RecordCallback(
        pb.RecordCallbackRequest(context=bare(), case_id=case.case_id, note="занято"),
        metadata=ivanova,
    )
    assert missed.callback_due == case.callback_due  # still owed, due as before
    done = await service.stub.RecordCallback(
        pb.RecordCallbackRequest(context=bare(), case_id=case.case_id, reached=True, note="ок"),
        metadata=ivanova,
    )
    assert not done.HasField("callback_due") and done.callback_purpose == ""
    recorded = (await history(service, case.case_id))[-1]
    assert (recorded.callback_recorded.reached, recorded.meta.actor.id) == (True, "l1.ivanova")
    service.projector.catch_up()
    assert (await service.stub.ListCases(pb.ListCasesRequest(callback_owed=True))).cases == []


async def test_callbacks_only_on_phone_cases_and_in_their_own_order(
    service: RunningService,
) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    error = await refused(service.stub.RecordCallback(
        pb.RecordCallbackRequest(context=context(**SPECIALIST), case_id=case_id, reached=True)
    ))  # fmt: skip
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not by PHONE" in (error.details() or "")
    ordered = await refused(service.stub.ListCases(
        pb.ListCasesRequest(callback_owed=True, order=pb.CASE_ORDER_DEADLINE)
    ))  # fmt: skip
    assert fields(ordered) == ["order"]


# -- repeating --------------------------------------------------------------------------------


async def test_an_overdue_case_is_repeated_with_new_files_by_another_channel(
    service: RunningService,
) -> None:
    original = (await service.stub.CreateCase(create_request())).case_id
    repeat = pb.RepeatCaseRequest(
        context=context(**CITIZEN, key="repeat-1"), case_id=original, reason="нет ответа",
        channel=types_pb2.EMAIL,
        provenance=types_pb2.Provenance(email=types_pb2.EmailOrigin(message_id="<m1@example>")),
        attachments=[types_pb2.Attachment(attachment_id="att-2", file_name="скан.pdf",
                                          media_type="application/pdf", size_bytes=10,
                                          sha256="ab" * 32)],
    )  # fmt: skip
    early = await refused(service.stub.RepeatCase(repeat))
    assert early.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "within its deadlines" in (early.details() or "")
    FixedClocks(service.app).set(original, ClockState.BREACHED, datetime.now(UTC))
    view = await service.stub.GetCase(pb.GetCaseRequest(case_id=original))
    assert view.overdue
    new = await service.stub.RepeatCase(repeat)
    assert (new.repeat_of, new.channel, new.provenance.email.message_id) == (
        original, types_pb2.EMAIL, "<m1@example>",
    )  # fmt: skip
    assert [a.attachment_id for a in new.attachments] == ["att-2"]
    bad = pb.RepeatCaseRequest(context=context(**CITIZEN), case_id=original, channel=42)  # type: ignore[arg-type]
    assert fields(await refused(service.stub.RepeatCase(bad))) == ["channel"]


# -- who may call -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rpc", "request_type", "callers"),
    [
        ("ConfirmAnswer", pb.ConfirmAnswerRequest, {"intake"}),
        ("RateAnswer", pb.RateAnswerRequest, {"intake"}),
        ("CloseCase", pb.CloseCaseRequest, {"desk"}),
        ("MergeCases", pb.MergeCasesRequest, {"desk"}),
        ("RecordCallback", pb.RecordCallbackRequest, {"desk"}),
    ],
)
async def test_only_the_callers_of_the_access_table_reach_the_new_rpcs(
    secure_service: RunningService, rpc: str, request_type: Any, callers: set[str]
) -> None:
    for caller in ("intake", "desk", "escalation", "operator", "sla"):
        stub = secure_service.stub_as(caller)
        error = await refused(getattr(stub, rpc)(request_type()))
        if caller in callers:  # let in, then refused for the empty request or the missing token
            assert error.code() != grpc.StatusCode.PERMISSION_DENIED, caller
        else:
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, caller
