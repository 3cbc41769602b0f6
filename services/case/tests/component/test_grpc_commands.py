"""CaseService commands through a real grpc.aio server: results and refusals."""

from __future__ import annotations

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_runtime.grpc_errors import field_violations

from .conftest import RunningService
from .messages import CITIZEN, SPECIALIST, context, create_request, reply, status


async def test_create_returns_the_registered_case(service: RunningService) -> None:
    view = await service.stub.CreateCase(create_request())
    assert view.number.count("-") == 1 and view.version == 2
    assert (view.status, view.channel, view.tier) == (
        types_pb2.REGISTERED,
        types_pb2.SOCIAL,
        types_pb2.L1,
    )
    assert view.queue == "l1-technical" and view.assignee
    assert view.citizen.preferred_contact == types_pb2.CONTACT_SMS
    assert view.provenance.social.post_reference == "wall-1_2"
    assert view.priority == types_pb2.NORMAL


async def test_malformed_create_lists_every_field_violation(service: RunningService) -> None:
    request = pb.CreateCaseRequest(context=pb.CommandContext(), content=types_pb2.CaseContent())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.CreateCase(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {field for field, _ in field_violations(refused.value)}
    assert fields >= {
        "context.actor",
        "context.actor.kind",
        "channel",
        "type",
        "category",
        "content.subject",
    }


async def test_illegal_transition_is_failed_precondition(service: RunningService) -> None:
    view = await service.stub.CreateCase(create_request())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.ChangeStatus(status(view.case_id, pb.CLOSE))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "allowed: IN_PROGRESS" in (refused.value.details() or "")


async def test_comment_on_closed_case_is_failed_precondition(service: RunningService) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    await service.stub.ChangeStatus(status(case_id, pb.TAKE_IN_WORK))
    await service.stub.AddComment(reply(case_id))
    for action in (pb.ANSWER_READY_ACTION, pb.CLOSE):
        await service.stub.ChangeStatus(status(case_id, action))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.AddComment(
            pb.AddCommentRequest(
                context=context(**CITIZEN), case_id=case_id, body="а ещё", public=True
            )  # type: ignore[arg-type]
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_unknown_case_is_not_found(service: RunningService) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.ChangeStatus(
            status("7b1e7c4e-2a43-4a55-9e3e-1f0a9b5c4d21", pb.TAKE_IN_WORK)
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def test_expected_version_conflict_is_aborted(service: RunningService) -> None:
    view = await service.stub.CreateCase(create_request())
    stale = pb.ChangeStatusRequest(
        context=context(**SPECIALIST, expected=1),
        case_id=view.case_id,
        action=pb.TAKE_IN_WORK,  # type: ignore[arg-type]
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.ChangeStatus(stale)
    assert refused.value.code() == grpc.StatusCode.ABORTED


async def test_retry_with_the_same_key_returns_the_original(service: RunningService) -> None:
    first = await service.stub.CreateCase(create_request(key="req-1"))
    await service.stub.ChangeStatus(status(first.case_id, pb.TAKE_IN_WORK))
    again = await service.stub.CreateCase(create_request(key="req-1"))
    assert again == first  # the case as that command left it, not as it is now
    other = create_request(key="req-1")
    other.content.subject = "Другое"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.CreateCase(other)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(refused.value)] == ["context.idempotency_key"]


async def test_repeat_and_escalation(service: RunningService) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    await service.stub.RequestEscalation(
        pb.RequestEscalationRequest(
            context=context(**CITIZEN), case_id=case_id,  # type: ignore[arg-type]
            reason=events_pb2.NO_ANSWER_IN_TIME, explanation="нет ответа",
        )
    )  # fmt: skip
    escalated = await service.stub.Escalate(
        pb.EscalateRequest(
            context=context(actor="escalation"), case_id=case_id, to_tier=types_pb2.L2,
            reason=events_pb2.NO_ANSWER_IN_TIME, priority=types_pb2.HIGH, callback_required=True,
        )
    )  # fmt: skip
    assert (escalated.tier, escalated.queue, escalated.priority) == (
        types_pb2.L2,
        "l2-technical",
        types_pb2.HIGH,
    )
    await service.stub.ChangeStatus(status(case_id, pb.TAKE_IN_WORK))
    await service.stub.AddComment(reply(case_id))
    await service.stub.ChangeStatus(status(case_id, pb.ANSWER_READY_ACTION))
    repeat = await service.stub.RepeatCase(
        pb.RepeatCaseRequest(context=context(**CITIZEN), case_id=case_id, reason="не помогло")  # type: ignore[arg-type]
    )
    assert repeat.repeat_of == case_id and repeat.case_id != case_id
    original = await service.stub.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert list(original.repeated_by) == [repeat.case_id]


async def test_attachments_are_checked_and_kept(service: RunningService) -> None:
    case_id = (await service.stub.CreateCase(create_request())).case_id
    bad = pb.AddAttachmentRequest(
        context=context(**CITIZEN), case_id=case_id,  # type: ignore[arg-type]
        attachment=types_pb2.Attachment(attachment_id="a1", file_name="x.png", sha256="zz"),
    )  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.AddAttachment(bad)
    assert [f for f, _ in field_violations(refused.value)] == ["attachment.sha256"]
    bad.attachment.sha256 = "0" * 64
    view = await service.stub.AddAttachment(bad)
    assert [a.file_name for a in view.attachments] == ["x.png"]


async def test_a_comments_files_are_shown_with_it(service: RunningService) -> None:
    """A citizen's documents sent as asked, with his comment: the view lists them under the
    comment (CaseView.attachments keeps the case's own), so the desk can show and open them."""
    case_id = (await service.stub.CreateCase(create_request())).case_id
    scan = types_pb2.Attachment(
        attachment_id="c-1", file_name="скан паспорта.pdf", media_type="application/pdf",
        size_bytes=2048, sha256="a" * 64,
    )  # fmt: skip
    comment = pb.AddCommentRequest(
        context=context(**CITIZEN), case_id=case_id, body="Прикладываю скан",  # type: ignore[arg-type]
        public=True, attachments=[scan],
    )  # fmt: skip
    view = await service.stub.AddComment(comment)
    assert [list(c.attachments) for c in view.comments] == [[scan]]
    assert list(view.attachments) == []  # not one of the case's own
    read = await service.stub.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert [list(c.attachments) for c in read.comments] == [[scan]]
