"""Through gRPC, as the desk calls: taking a case makes it the person's (and lists it under their
username, the desk's «Мои обращения»); «Ответ готов» is refused until a public reply is given."""

from __future__ import annotations

import asyncio

import grpc

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_runtime.grpc_errors import precondition_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from .conftest import RunningService
from .test_grpc_people import as_person, bare, new_case, refused, token_of


def action(case_id: str, what: int) -> pb.ChangeStatusRequest:
    return pb.ChangeStatusRequest(context=bare(), case_id=case_id, action=what)  # type: ignore[arg-type]


def comment(case_id: str, body: str, public: bool = True) -> pb.AddCommentRequest:
    return pb.AddCommentRequest(context=bare(), case_id=case_id, body=body, public=public)


async def mine(service: RunningService, username: str, metadata: object) -> list[str]:
    """The cases listed under the username, once the index has caught up (it follows the store)."""
    for _ in range(100):
        page = await service.stub.ListCases(
            pb.ListCasesRequest(assignee=username), metadata=metadata
        )
        if page.cases:
            return [c.case_id for c in page.cases]
        await asyncio.sleep(0.05)
    return []


async def test_a_take_assigns_the_case_to_the_person_and_lists_it_as_theirs(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id, ivanova = await new_case(service), as_person(token_of(idp, "l1.ivanova"))
    view = await service.stub.ChangeStatus(action(case_id, pb.TAKE_IN_WORK), metadata=ivanova)
    assert (view.status, view.assignee) == (types_pb2.IN_PROGRESS, "l1.ivanova")
    history = await service.stub.GetHistory(pb.GetHistoryRequest(case_id=case_id), metadata=ivanova)
    last = [(e.WhichOneof("payload"), e.meta.actor.id) for e in history.events[-2:]]
    assert last == [("assigned", "l1.ivanova"), ("status_changed", "l1.ivanova")]
    assert history.events[-2].assigned.specialist_id == "l1.ivanova"
    assert await mine(service, "l1.ivanova", ivanova) == [case_id]

    petrova = as_person(token_of(idp, "l1.petrova"))
    error = await refused(
        service.stub.ChangeStatus(action(case_id, pb.TAKE_IN_WORK), metadata=petrova)
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        f"l1.petrova (L1) may not take case {view.number}: it is in work with l1.ivanova; "
        "a supervisor reassigns it or takes it over",
    )


async def test_answer_ready_is_refused_until_a_public_reply(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id, ivanova = await new_case(service), as_person(token_of(idp, "l1.ivanova"))
    await service.stub.ChangeStatus(action(case_id, pb.TAKE_IN_WORK), metadata=ivanova)
    await service.stub.AddComment(comment(case_id, "проверить журнал СМС", False), metadata=ivanova)
    error = await refused(
        service.stub.ChangeStatus(action(case_id, pb.ANSWER_READY_ACTION), metadata=ivanova)
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "there is no answer to the citizen's request yet" in (error.details() or "")
    # Typed for the desk and scripts: "reply first", told apart from other refusals.
    assert precondition_violations(error) == [("ANSWER_MISSING", f"case/{case_id}")]
    await service.stub.AddComment(comment(case_id, "Код отправлен повторно"), metadata=ivanova)
    view = await service.stub.ChangeStatus(
        action(case_id, pb.ANSWER_READY_ACTION), metadata=ivanova
    )
    assert view.status == types_pb2.ANSWER_READY
