"""Every validation rule through gRPC: INVALID_ARGUMENT naming the field, never the value."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from intake_messages import FRONTEND_OF_CHANNEL, metadata, submission, upload

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_runtime.grpc_errors import field_violations

Spoil = Callable[[intake_pb2.SubmitCaseRequest], None]


def _set(path: str, value: object) -> Spoil:
    def spoil(request: intake_pb2.SubmitCaseRequest) -> None:
        *parents, leaf = path.split(".")
        target = request
        for name in parents:
            target = getattr(target, name)
        setattr(target, leaf, value)

    return spoil


def _clear(path: str) -> Spoil:
    def spoil(request: intake_pb2.SubmitCaseRequest) -> None:
        *parents, leaf = path.split(".")
        target = request
        for name in parents:
            target = getattr(target, name)
        target.ClearField(leaf)

    return spoil


def _attach(item: intake_pb2.AttachmentUpload, times: int = 1) -> Spoil:
    return lambda request: request.attachments.extend([item] * times)


# (channel, spoil, expected field, the personal value that must not be echoed)
CASES = [
    ("PERSONAL_ACCOUNT", _set("idempotency_key", ""), "idempotency_key", None),
    ("PERSONAL_ACCOUNT", _set("idempotency_key", "has space"), "idempotency_key", None),
    ("PERSONAL_ACCOUNT", _set("channel", 0), "channel", None),
    ("PERSONAL_ACCOUNT", _set("channel", 42), "channel", None),
    ("PERSONAL_ACCOUNT", _set("type", 9), "type", None),
    ("PERSONAL_ACCOUNT", _set("category", 9), "category", None),
    ("PERSONAL_ACCOUNT", _set("citizen.snils", "112-233-445 96"), "citizen.snils", "445 96"),
    ("PERSONAL_ACCOUNT", _set("citizen.snils", "1122334459"), "citizen.snils", "1122334459"),
    ("PERSONAL_ACCOUNT", _set("citizen.inn", "500100732258"), "citizen.inn", "500100732258"),
    ("PERSONAL_ACCOUNT", _set("citizen.inn", "7707083894"), "citizen.inn", "7707083894"),
    (
        "PERSONAL_ACCOUNT",
        _set("citizen.mobile_phone", "89123456789"),
        "citizen.mobile_phone",
        "89123456789",
    ),
    ("PERSONAL_ACCOUNT", _set("citizen.email", "ivanov@@example"), "citizen.email", "ivanov@"),
    ("PERSONAL_ACCOUNT", _set("citizen.full_name", "И" * 301), "citizen.full_name", None),
    ("PERSONAL_ACCOUNT", _set("citizen.preferred_contact", 17), "citizen.preferred_contact", None),
    ("PERSONAL_ACCOUNT", _set("content.subject", " "), "content.subject", None),
    ("PERSONAL_ACCOUNT", _set("content.subject", "x" * 251), "content.subject", None),
    ("PERSONAL_ACCOUNT", _set("content.description", ""), "content.description", None),
    ("PERSONAL_ACCOUNT", _set("content.description", "a\x00b"), "content.description", None),
    ("PERSONAL_ACCOUNT", _set("content.steps_taken", "x" * 5001), "content.steps_taken", None),
    ("PERSONAL_ACCOUNT", _set("content.service_code", "x" * 65), "content.service_code", None),
    (
        "PERSONAL_ACCOUNT",
        lambda r: r.content.problem_occurred_at.FromSeconds(4_000_000_000),
        "content.problem_occurred_at",
        None,
    ),
    ("PERSONAL_ACCOUNT", _clear("provenance"), "provenance.personal_account", None),
    ("PERSONAL_ACCOUNT", lambda r: r.provenance.chat.SetInParent(), "provenance", None),
    (
        "PERSONAL_ACCOUNT",
        _set("provenance.personal_account.form_id", ""),
        "provenance.personal_account.form_id",
        None,
    ),
    ("PORTAL_CHAT", _set("provenance.chat.session_id", ""), "provenance.chat.session_id", None),
    (
        "EMAIL",
        _set("provenance.email.from_address", "nobody"),
        "provenance.email.from_address",
        "nobody",
    ),
    ("EMAIL", _set("provenance.email.message_id", ""), "provenance.email.message_id", None),
    ("PHONE", _set("provenance.phone.caller_number", ""), "provenance.phone.caller_number", None),
    (
        "PHONE",
        _set("provenance.phone.caller_number", "12345"),
        "provenance.phone.caller_number",
        "12345",
    ),
    ("PHONE", _set("provenance.phone.call_id", ""), "provenance.phone.call_id", None),
    ("PHONE", _set("citizen.full_name", ""), "citizen.full_name", None),
    ("SOCIAL", _set("provenance.social.network", "myspace"), "provenance.social.network", None),
    (
        "SOCIAL",
        _set("provenance.social.post_reference", ""),
        "provenance.social.post_reference",
        None,
    ),
    ("MFC", _set("provenance.mfc.office_code", ""), "provenance.mfc.office_code", None),
    ("MFC", _set("provenance.mfc.operator_id", ""), "provenance.mfc.operator_id", None),
    ("PERSONAL_ACCOUNT", _attach(upload(name="")), "attachments[0].file_name", None),
    ("PERSONAL_ACCOUNT", _attach(upload(b"MZ\x90\x00 not a pdf")), "attachments[0].content", None),
    ("PERSONAL_ACCOUNT", _attach(upload(), times=6), "attachments", None),
    (
        "PERSONAL_ACCOUNT",
        _attach(
            intake_pb2.AttachmentUpload(
                file_name="a.exe", media_type="application/x-msdownload", content=b"MZ"
            )
        ),
        "attachments[0].media_type",
        None,
    ),
    (
        "PERSONAL_ACCOUNT",
        _attach(
            intake_pb2.AttachmentUpload(
                file_name="a.pdf", media_type="application/pdf", content=b"%PDF-1", sha256="0" * 64
            )
        ),
        "attachments[0].sha256",
        None,
    ),
]


@pytest.mark.parametrize(("channel", "spoil", "field", "secret"), CASES)
async def test_bad_field_is_named(intake, channel: str, spoil: Spoil, field: str, secret) -> None:
    request = submission(channel)
    spoil(request)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.SubmitCase(request, metadata=metadata(FRONTEND_OF_CHANNEL[channel]))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(refused.value)
    assert field in [f for f, _ in violations], violations
    if secret:
        assert secret not in refused.value.details()
        assert all(secret not in text for _, text in violations)
    assert not intake.cases.commands, "nothing reaches the case service"


async def test_all_problems_are_reported_at_once(intake) -> None:
    request = submission("MFC")
    request.citizen.snils, request.citizen.inn = "", ""
    request.citizen.mobile_phone, request.citizen.email = "", ""
    request.citizen.preferred_contact = types_pb2.CONTACT_CHANNEL_UNSPECIFIED
    request.content.subject = ""
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.SubmitCase(request, metadata=metadata("mfc-desk"))
    fields = [f for f, _ in field_violations(refused.value)]
    assert fields == ["citizen.snils", "citizen.mobile_phone", "content.subject"]


async def test_email_channel_takes_the_sender_as_contact(intake) -> None:
    request = submission("EMAIL")
    request.citizen.email, request.citizen.mobile_phone = "", ""
    request.citizen.preferred_contact = types_pb2.CONTACT_CHANNEL_UNSPECIFIED
    await intake.stub.SubmitCase(request, metadata=metadata("mail-gateway"))
    assert intake.cases.commands[0].citizen.email == "ivanov@example.ru"


async def test_social_needs_no_contact(intake) -> None:
    request = submission("SOCIAL")
    request.citizen.email, request.citizen.mobile_phone = "", ""
    request.citizen.preferred_contact = types_pb2.CONTACT_CHANNEL_UNSPECIFIED
    reply = await intake.stub.SubmitCase(request, metadata=metadata(login=None))
    assert reply.number


FOLLOW_UPS = [
    (
        "AddComment",
        intake_pb2.AddCommentRequest(idempotency_key="k", case_number="123", body="x"),
        "case_number",
    ),
    (
        "AddComment",
        intake_pb2.AddCommentRequest(idempotency_key="k", case_number="2026-0000001"),
        "body",
    ),
    (
        "AddComment",
        intake_pb2.AddCommentRequest(case_number="2026-0000001", body="x"),
        "idempotency_key",
    ),
    (
        "RepeatCase",
        intake_pb2.RepeatCaseRequest(idempotency_key="k", case_number="2026-0000001"),
        "reason",
    ),
    (
        "RequestEscalation",
        intake_pb2.RequestEscalationRequest(
            idempotency_key="k", case_number="2026-0000001", reason=4
        ),
        "reason",
    ),
    (
        "RequestEscalation",
        intake_pb2.RequestEscalationRequest(
            idempotency_key="k", case_number="2026-0000001", reason=0
        ),
        "reason",
    ),
    ("GetCase", intake_pb2.GetCaseRequest(case_number="2026-01"), "case_number"),
    ("ListMyCases", intake_pb2.ListMyCasesRequest(page_size=101), "page_size"),
    ("ListMyCases", intake_pb2.ListMyCasesRequest(page_size=-1), "page_size"),
    ("IngestEmail", intake_pb2.IngestEmailRequest(idempotency_key="k"), "raw_message"),
    (
        "IngestEmail",
        intake_pb2.IngestEmailRequest(idempotency_key="k", raw_message=b"junk"),
        "raw_message",
    ),
]


@pytest.mark.parametrize(("rpc", "request_message", "field"), FOLLOW_UPS)
async def test_follow_up_fields_are_checked(intake, rpc: str, request_message, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(intake.stub, rpc)(request_message, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [f for f, _ in field_violations(refused.value)]
