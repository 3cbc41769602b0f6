"""CaseService queries and WatchCase through a real grpc.aio server."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.wire.events import event_id
from casedesk_runtime.events import to_timestamp

from .conftest import RunningService
from .messages import create_request, status


async def test_get_as_of_version_time_and_by_number(service: RunningService) -> None:
    created = await service.stub.CreateCase(create_request())
    moved = await service.stub.ChangeStatus(status(created.case_id, pb.TAKE_IN_WORK))
    past = await service.stub.GetCase(pb.GetCaseRequest(case_id=created.case_id, as_of_version=2))
    assert (past.status, past.version) == (types_pb2.REGISTERED, 2)
    at_creation = await service.stub.GetCase(
        pb.GetCaseRequest(case_id=created.case_id, as_of_time=created.updated_at)
    )
    assert at_creation.status == types_pb2.REGISTERED
    current = await service.stub.GetCase(pb.GetCaseRequest(number=created.number))
    assert current == moved
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.GetCase(
            pb.GetCaseRequest(
                case_id=created.case_id, as_of_version=2, as_of_time=created.updated_at
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_history_pages_carry_the_full_envelope(service: RunningService) -> None:
    created = await service.stub.CreateCase(create_request())
    await service.stub.ChangeStatus(status(created.case_id, pb.TAKE_IN_WORK))
    first = await service.stub.GetHistory(
        pb.GetHistoryRequest(case_id=created.case_id, page_size=2)
    )
    assert [e.WhichOneof("payload") for e in first.events] == ["created", "assigned"]
    assert first.next_after_version == 2
    rest = await service.stub.GetHistory(
        pb.GetHistoryRequest(case_id=created.case_id, after_version=2, page_size=2)
    )
    (changed,) = rest.events
    assert rest.next_after_version == 0
    meta = changed.meta
    assert meta.event_id == event_id(created.case_id, 3)
    assert (meta.case_id, meta.case_version, meta.event_type) == (
        created.case_id,
        3,
        "case.StatusChanged",
    )
    assert (meta.actor.kind, meta.actor.id) == (types_pb2.Actor.SPECIALIST, "l1-004")
    assert (meta.correlation_id, meta.causation_id) == ("corr-42", "intake-request-7")
    assert meta.occurred_at.ToDatetime() > created.registered_at.ToDatetime()
    assert changed.status_changed.to_status == types_pb2.IN_PROGRESS


async def test_list_cases_from_the_index(service: RunningService) -> None:
    mine = [await service.stub.CreateCase(create_request(login="petrov")) for _ in range(3)]
    await service.stub.CreateCase(create_request(login="someone-else"))
    await service.stub.ChangeStatus(status(mine[0].case_id, pb.TAKE_IN_WORK))
    await asyncio.to_thread(service.projector.catch_up)  # competes with the running one
    page = await service.stub.ListCases(pb.ListCasesRequest(citizen_login="petrov", page_size=2))
    assert [c.number for c in page.cases] == [mine[2].number, mine[1].number]
    rest = await service.stub.ListCases(
        pb.ListCasesRequest(citizen_login="petrov", page_size=2, page_token=page.next_page_token)
    )
    assert [c.number for c in rest.cases] == [mine[0].number] and not rest.next_page_token
    working = await service.stub.ListCases(pb.ListCasesRequest(status=types_pb2.IN_PROGRESS))
    assert [c.case_id for c in working.cases] == [mine[0].case_id]


async def test_watch_streams_past_and_new_events(service: RunningService) -> None:
    created = await service.stub.CreateCase(create_request())
    stream = service.stub.WatchCase(pb.WatchCaseRequest(case_id=created.case_id, after_version=1))
    backlog = await asyncio.wait_for(stream.read(), 5)
    assert backlog.meta.case_version == 2  # Assigned, after the version asked for
    await service.stub.ChangeStatus(status(created.case_id, pb.TAKE_IN_WORK))
    live = await asyncio.wait_for(stream.read(), 5)
    assert live.status_changed.to_status == types_pb2.IN_PROGRESS
    assert live.meta.case_version == 3
    stream.cancel()


async def test_watch_sees_events_stored_by_another_replica(service: RunningService) -> None:
    from casedesk_case.testing import CaseApplication

    created = await service.stub.CreateCase(create_request())
    stream = service.stub.WatchCase(pb.WatchCaseRequest(case_id=created.case_id, after_version=2))
    other = CaseApplication(env=dict(service.app.env))  # same database, another "process"
    try:
        await asyncio.sleep(0.1)
        from casedesk_case.application import CommandMeta
        from casedesk_case.domain.values import Actor, ActorKind, EventContext, Status

        await asyncio.to_thread(
            other.change_status, created.case_id, to_status=Status.IN_PROGRESS, reason="",
            meta=CommandMeta(EventContext(Actor(ActorKind.SPECIALIST, "l1-005"))),
        )  # fmt: skip
        event = await asyncio.wait_for(stream.read(), 5)
        assert event.meta.actor.id == "l1-005" and event.meta.case_version == 3
    finally:
        stream.cancel()
        other.close()


async def test_watch_unknown_case_is_not_found(service: RunningService) -> None:
    stream = service.stub.WatchCase(
        pb.WatchCaseRequest(case_id="7b1e7c4e-2a43-4a55-9e3e-1f0a9b5c4d21")
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream.read()
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def test_timestamps_are_utc() -> None:
    from datetime import UTC, datetime

    assert to_timestamp(datetime(2026, 1, 1, tzinfo=UTC)).seconds == 1767225600
