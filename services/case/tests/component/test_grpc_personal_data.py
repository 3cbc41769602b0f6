"""Personal data sealed inside events, opened for the callers of the read RPCs (issue #18): the
case service with CASEDESK_SEAL_PERSONAL_DATA on, through a real grpc.aio server. The suites run
without it are the proof that the setting off changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.settings import CaseSettings
from casedesk_case.wire.events import to_case_event
from casedesk_case.wire.personal import ERASED
from casedesk_runtime.grpc_errors import precondition_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from ..conftest import Keys
from .conftest import RunningService, people_of, running_case_service
from .messages import CITIZEN, context, create_request, reply, status

NAME, SNILS, PHONE, LOGIN = "Иванов Иван Иванович", "11223344595", "+79161234567", "ivanov.ii"
SECRETS = (NAME, SNILS, PHONE, LOGIN, "Раздел недоступен", "wall-1_2", "У меня всё сломалось")


@pytest.fixture(params=["pipeline", "thread-per-command"])
async def sealed(
    tmp_path: Path, request: pytest.FixtureRequest, idp: FakeIdentityProvider, keys: Keys
) -> AsyncIterator[RunningService]:
    settings = CaseSettings(grpc_port=0, grpc_insecure_dev=True, seal_personal_data=True)
    async with running_case_service(
        tmp_path, settings, people_of(idp), pipelined=request.param == "pipeline", keys=keys
    ) as running:
        yield running


def citizen_comment(case_id: str) -> pb.AddCommentRequest:
    return pb.AddCommentRequest(
        context=context(**CITIZEN),  # type: ignore[arg-type]
        case_id=case_id,
        body="У меня всё сломалось",
        public=True,
    )


def stored(service: RunningService, case_id: str) -> bytes:
    events = service.app.recorder.select_events(UUID(case_id))  # type: ignore[attr-defined]
    return b"".join(e.state for e in events)


def leaked(blob: bytes) -> list[str]:
    return [
        text
        for text in SECRETS
        if text.encode() in blob or json.dumps(text).strip('"').encode() in blob
    ]


async def test_events_hold_tokens_and_the_reads_open_them(sealed: RunningService) -> None:
    created = await sealed.stub.CreateCase(create_request())
    # The command's reply is opened for its caller.
    assert (created.citizen.full_name, created.citizen.snils) == (NAME, SNILS)
    await sealed.stub.AddComment(citizen_comment(created.case_id))
    blob = stored(sealed, created.case_id)
    assert b"cdk1." in blob and leaked(blob) == []

    view = await sealed.stub.GetCase(pb.GetCaseRequest(case_id=created.case_id))
    assert view.citizen == create_request().citizen
    assert view.content.subject == "Раздел недоступен"
    assert view.provenance.social.post_reference == "wall-1_2"
    assert view.provenance.social.network == "vk"  # not personal, never sealed

    history = await sealed.stub.GetHistory(pb.GetHistoryRequest(case_id=created.case_id))
    payloads = {e.WhichOneof("payload"): e for e in history.events}
    assert payloads["created"].created.citizen.mobile_phone == PHONE
    commented = payloads["commented"]
    assert commented.commented.body == "У меня всё сломалось"
    assert commented.meta.actor.id == LOGIN  # the citizen who acted, opened too
    # The envelopes the relay publishes to case.events.v1 are the stored events: tokens only.
    published = b"".join(
        to_case_event(sealed.app.mapper.to_domain_event(e)).SerializeToString()
        for e in sealed.app.recorder.select_events(UUID(created.case_id))  # type: ignore[attr-defined]
    )
    assert b"cdk1." in published and leaked(published) == []


async def test_list_cases_finds_the_citizen_by_his_login(sealed: RunningService) -> None:
    mine = await sealed.stub.CreateCase(create_request(login=LOGIN))
    await sealed.stub.CreateCase(create_request(login="someone-else"))
    await asyncio.to_thread(sealed.projector.catch_up)
    page = await sealed.stub.ListCases(pb.ListCasesRequest(citizen_login="IVANOV.II"))
    assert [c.case_id for c in page.cases] == [mine.case_id]
    assert page.cases[0].subject == "Раздел недоступен"


async def test_an_erased_citizen_answers_failed_precondition_erased(
    sealed: RunningService, keys: Keys
) -> None:
    created = await sealed.stub.CreateCase(create_request())
    await asyncio.to_thread(sealed.projector.catch_up)
    keys.erase(LOGIN)

    for call in (
        sealed.stub.GetCase(pb.GetCaseRequest(case_id=created.case_id)),
        sealed.stub.GetHistory(pb.GetHistoryRequest(case_id=created.case_id)),
        sealed.stub.AddComment(citizen_comment(created.case_id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f"the citizen of case {created.case_id} was erased at" in str(
            refused.value.details()
        )
        assert precondition_violations(refused.value) == [("ERASED", f"case/{created.case_id}")]

    # The list still shows and counts the case, its personal texts as erased.
    page = await sealed.stub.ListCases(pb.ListCasesRequest(status=types_pb2.REGISTERED))
    assert [(c.case_id, c.subject) for c in page.cases] == [(created.case_id, ERASED)]
    # A command adding nothing personal is stored; its reply shows the citizen as erased.
    moved = await sealed.stub.ChangeStatus(status(created.case_id, pb.TAKE_IN_WORK))
    assert moved.status == types_pb2.IN_PROGRESS
    assert (moved.citizen.full_name, moved.citizen.snils) == (ERASED, ERASED)
    # A stream of the case's events ends with the same status.
    stream = sealed.stub.WatchCase(pb.WatchCaseRequest(case_id=created.case_id))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await asyncio.wait_for(stream.read(), 5)
    assert ended.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_specialists_reply_is_sealed_and_opened(sealed: RunningService) -> None:
    created = await sealed.stub.CreateCase(create_request())
    await sealed.stub.ChangeStatus(status(created.case_id, pb.TAKE_IN_WORK))
    answered = await sealed.stub.AddComment(reply(created.case_id, body="Раздел снова доступен"))
    assert "Раздел снова доступен".encode() not in stored(sealed, created.case_id)
    assert answered.version == 4
    history = await sealed.stub.GetHistory(pb.GetHistoryRequest(case_id=created.case_id))
    bodies = [e.commented.body for e in history.events if e.WhichOneof("payload") == "commented"]
    assert bodies == ["Раздел снова доступен"]
