"""A repeat as the seed describes it (issue 19, item 4): allowed once the case is answered or
overdue (the case service decides; intake says it clearly), through the channel the citizen
repeats by (the frontend's, with its provenance there), carrying new documents kept in the vault
like a new case's."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from intake_messages import (
    ALL_CHECKS,
    PDF,
    as_operator,
    metadata,
    provenance,
    refusal,
    submission,
    upload,
)

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2


async def _case(intake, channel: str = "PORTAL_CHAT", frontend: str = "desk-all") -> str:  # type: ignore[no-untyped-def]
    sent = as_operator(frontend) if channel in ("PHONE", "MFC") else metadata(frontend)
    return (await intake.stub.SubmitCase(submission(channel), metadata=sent)).number


def _repeat(number: str, channel: str | None = None, key: str = "r1", **fields):  # type: ignore[no-untyped-def]
    request = intake_pb2.RepeatCaseRequest(
        idempotency_key=key, case_number=number, reason="Ответ не решил проблему", **fields
    )
    if channel is not None:
        request.channel = types_pb2.Channel.Value(channel)
        if "provenance" not in fields:
            request.provenance.CopyFrom(provenance(channel))
    return request


def _violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


async def test_an_overdue_case_may_be_repeated_before_any_answer(intake) -> None:
    number = await _case(intake)
    intake.cases.set_overdue(number)
    view = await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=number), metadata=metadata()
    )
    assert (view.status, view.can_repeat, view.can_rate) == (types_pb2.REGISTERED, True, False)
    listed = await intake.stub.ListMyCases(intake_pb2.ListMyCasesRequest(), metadata=metadata())
    assert [c.can_repeat for c in listed.cases if c.number == number] == [True]
    reply = await intake.stub.RepeatCase(_repeat(number), metadata=metadata())
    assert reply.number != number and f"по заявке № {number}" in reply.text


async def test_a_case_neither_answered_nor_overdue_is_refused_clearly(intake) -> None:
    number = await _case(intake)
    view = await intake.stub.GetCase(
        intake_pb2.GetCaseRequest(case_number=number), metadata=metadata()
    )
    assert not view.can_repeat
    refused = await refusal(intake.stub.RepeatCase(_repeat(number), metadata=metadata()))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.details().startswith(
        "the case cannot be repeated now: a repeat needs an answered case (ANSWER_READY or "
        "CLOSED) or an overdue one (the case service: "
    )


async def test_a_repeat_through_another_channel_carries_it_and_new_files(intake) -> None:
    number = await _case(intake, "PORTAL_CHAT")
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    request = _repeat(number, "PERSONAL_ACCOUNT")
    request.attachments.append(upload(PDF, "справка.pdf"))
    reply = await intake.stub.RepeatCase(request, metadata=metadata("personal-account"))
    (sent,) = intake.cases.of_type(case_pb2.RepeatCaseRequest)
    assert sent.channel == types_pb2.PERSONAL_ACCOUNT
    assert sent.provenance.personal_account.form_id == "feedback-form"
    (stored,) = sent.attachments
    assert (stored.file_name, stored.media_type, stored.size_bytes) == (
        "справка.pdf", "application/pdf", len(PDF),
    )  # fmt: skip
    new = intake.cases.by_number(reply.number)
    assert new.channel == types_pb2.PERSONAL_ACCOUNT and new.repeat_of
    # The file is in the vault, under the citizen the original case was stored for.
    reference = intake.parts.references.of("login:ivanov.ii")
    assert await intake.parts.vault.read(reference, stored.attachment_id) == PDF


async def test_a_repeat_without_a_channel_keeps_the_originals(intake) -> None:
    number = await _case(intake, "PORTAL_CHAT")
    intake.cases.set_status(number, types_pb2.CLOSED)
    await intake.stub.RepeatCase(_repeat(number), metadata=metadata("portal-chat"))
    (sent,) = intake.cases.of_type(case_pb2.RepeatCaseRequest)
    assert sent.channel == types_pb2.CHANNEL_UNSPECIFIED and not sent.HasField("provenance")


async def test_a_channel_the_frontend_does_not_serve_is_permission_denied(intake) -> None:
    number = await _case(intake)
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    refused = await refusal(
        intake.stub.RepeatCase(
            _repeat(number, "PERSONAL_ACCOUNT"), metadata=metadata("portal-chat")
        )
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not allowed to use channel PERSONAL_ACCOUNT" in refused.details()
    assert not intake.cases.of_type(case_pb2.RepeatCaseRequest)


async def test_a_portal_citizen_repeats_only_through_portal_channels(intake) -> None:
    number = await _case(intake)
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    refused = await refusal(
        intake.stub.RepeatCase(_repeat(number, "EMAIL"), metadata=metadata("desk-all"))
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "x-citizen-token repeats through PERSONAL_ACCOUNT, PORTAL_CHAT, not EMAIL" in (
        refused.details()
    )


async def test_an_operator_repeats_at_the_mfc_in_his_own_name(intake) -> None:
    number = await _case(intake, "PHONE", "desk-all")
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    request = _repeat(number, "MFC")
    request.provenance.mfc.operator_id = ""
    await intake.stub.RepeatCase(request, metadata=as_operator("desk-all"))
    (sent,) = intake.cases.of_type(case_pb2.RepeatCaseRequest)
    assert sent.provenance.mfc.operator_id == "l1.ivanova"
    assert sent.context.identified_by == "l1.ivanova"
    request = _repeat(number, "MFC", key="r2")
    request.provenance.mfc.operator_id = "someone.else"
    refused = await refusal(intake.stub.RepeatCase(request, metadata=as_operator("desk-all")))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda r: r.ClearField("channel"), "provenance", "set channel too"),
        (lambda r: r.ClearField("provenance"), "provenance.personal_account", "is required"),
        (
            lambda r: r.provenance.CopyFrom(provenance("PORTAL_CHAT")),
            "provenance",
            "needs provenance.personal_account, not chat",
        ),
        (lambda r: setattr(r, "channel", 77), "channel", "must be one of"),
        (lambda r: setattr(r, "reason", ""), "reason", "is required"),
        (
            lambda r: r.attachments.append(upload(b"not a pdf at all")),
            "attachments[0].content",
            "",
        ),
    ],
)
async def test_a_bad_repeat_names_its_field(intake, change, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    number = await _case(intake)
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    request = _repeat(number, "PERSONAL_ACCOUNT")
    change(request)
    refused = await refusal(intake.stub.RepeatCase(request, metadata=metadata("desk-all")))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = _violations(refused)
    assert field in found, found
    assert words in found[field]
    assert not intake.cases.of_type(case_pb2.RepeatCaseRequest)


async def test_a_repeat_of_a_call_from_abroad_needs_the_callers_checks(intake) -> None:
    number = await _case(intake, "PHONE", "contact-centre")
    intake.cases.set_status(number, types_pb2.ANSWER_READY)
    request = _repeat(number, "PHONE")
    del request.provenance.phone.caller_checks[:]
    refused = await refusal(intake.stub.RepeatCase(request, metadata=as_operator("contact-centre")))
    assert "provenance.phone.caller_checks" in _violations(refused)
    request.provenance.phone.caller_checks.extend(ALL_CHECKS)
    await intake.stub.RepeatCase(request, metadata=as_operator("contact-centre"))
    (sent,) = intake.cases.of_type(case_pb2.RepeatCaseRequest)
    assert sent.channel == types_pb2.PHONE and sent.provenance.phone.from_abroad
    assert list(sent.provenance.phone.caller_checks) == ALL_CHECKS
