"""Retries return the original reply; a reused key with other content is ALREADY_EXISTS."""

from __future__ import annotations

import grpc
import pytest
from intake_messages import metadata, submission

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.application.idempotency import derived_key


async def test_a_retry_returns_the_original_acknowledgement(intake) -> None:
    """A new case without files has no record in intake: the case service's receipt answers
    the retry, with the case the first attempt made (its earlier case is not itself)."""
    request = submission(key="retry-1")
    first = await intake.stub.SubmitCase(request, metadata=metadata())
    again = await intake.stub.SubmitCase(request, metadata=metadata())
    assert again == first
    creates = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert len(creates) == 2 and len(intake.cases.cases) == 1
    assert creates[0] == creates[1]  # the same command, so the receipt answers it


async def test_a_retry_with_files_is_answered_from_intakes_record(intake) -> None:
    request = submission(key="retry-files")
    request.attachments.add(file_name="scan.pdf", media_type="application/pdf", content=b"%PDF-1")
    first = await intake.stub.SubmitCase(request, metadata=metadata())
    again = await intake.stub.SubmitCase(request, metadata=metadata())
    assert again == first
    assert len(intake.cases.of_type(case_pb2.CreateCaseRequest)) == 1


async def test_a_retry_links_as_its_first_attempt_and_a_later_case_links_to_it(intake) -> None:
    """Linking sees the cases before the call's own: a retry, even one after the citizen's next
    case about the same service, sends the case service the command its first attempt sent."""
    first = await intake.stub.SubmitCase(submission(key="link-1"), metadata=metadata())
    assert await intake.stub.SubmitCase(submission(key="link-1"), metadata=metadata()) == first
    later = await intake.stub.SubmitCase(submission(key="link-2"), metadata=metadata())
    assert await intake.stub.SubmitCase(submission(key="link-1"), metadata=metadata()) == first
    creates = intake.cases.of_type(case_pb2.CreateCaseRequest)
    first_id = intake.cases.by_number(first.number).case_id
    assert [c.linked_to for c in creates] == ["", "", first_id, ""]
    assert later.number != first.number and len(intake.cases.cases) == 2


async def test_the_same_key_with_other_content_is_already_exists(intake) -> None:
    await intake.stub.SubmitCase(submission(key="retry-1"), metadata=metadata())
    changed = submission(key="retry-1", subject="Другая тема")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.SubmitCase(changed, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as other_citizen:
        await intake.stub.SubmitCase(submission(key="retry-1"), metadata=metadata(login="petrov"))
    assert other_citizen.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_keys_belong_to_their_frontend(intake) -> None:
    chat = await intake.stub.SubmitCase(
        submission("PORTAL_CHAT", key="k"), metadata=metadata("portal-chat")
    )
    account = await intake.stub.SubmitCase(
        submission("PERSONAL_ACCOUNT", key="k"), metadata=metadata("personal-account")
    )
    assert chat.number != account.number


async def test_crash_between_case_service_and_record_is_safe(intake) -> None:
    """The case was created but intake died before storing the reply: the retry finds it."""
    request = submission(key="crash-1")
    first = await intake.stub.SubmitCase(request, metadata=metadata())
    # The lost write: reply and link index go in one transaction, so both are missing.
    await intake.parts.store.purge(idempotency_before=float("inf"), recent_before=float("inf"))
    again = await intake.stub.SubmitCase(request, metadata=metadata())
    assert again.number == first.number
    creates = intake.cases.of_type(case_pb2.CreateCaseRequest)
    assert {c.context.idempotency_key for c in creates} == {derived_key("desk-all", "crash-1")}
    assert len(creates) == 2 and len(intake.cases.cases) == 1


async def test_a_refused_call_does_not_use_up_its_key(intake) -> None:
    comment = intake_pb2.AddCommentRequest(
        idempotency_key="c1", case_number="2026-9999999", body="Дополнение"
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.stub.AddComment(comment, metadata=metadata())
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    comment.case_number = case.number
    reply = await intake.stub.AddComment(comment, metadata=metadata())
    assert reply.comments[0].body == "Дополнение"


async def test_comment_retry_adds_one_comment(intake) -> None:
    case = await intake.stub.SubmitCase(submission(), metadata=metadata())
    comment = intake_pb2.AddCommentRequest(idempotency_key="c1", case_number=case.number, body="x")
    await intake.stub.AddComment(comment, metadata=metadata())
    reply = await intake.stub.AddComment(comment, metadata=metadata())
    assert len(reply.comments) == 1
    assert len(intake.cases.by_number(case.number).comments) == 1
    assert reply.status == types_pb2.REGISTERED
