"""CreateCases: each item decided as its own CreateCase call would be, one result per item."""

from __future__ import annotations

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_runtime.grpc_errors import field_violations

from .conftest import RunningService
from .messages import create_request

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def violations_of(refusal: pb.CommandRefusal) -> set[str]:
    return {field for field, _ in field_violations(refusal.status_details)}


async def test_each_item_gets_its_own_result_in_order(service: RunningService) -> None:
    invalid = pb.CreateCaseRequest(context=pb.CommandContext(), content=types_pb2.CaseContent())
    reply = await service.stub.CreateCases(
        pb.CreateCasesRequest(
            cases=[create_request(key="b-1"), invalid, create_request(key="b-2", login="petrov")]
        )
    )
    outcomes = [result.WhichOneof("outcome") for result in reply.results]
    assert outcomes == ["created", "refusal", "created"]
    first, refused, second = reply.results
    assert first.created.case_id != second.created.case_id
    assert first.created.number != second.created.number
    assert second.created.citizen.account_login == "petrov"
    assert refused.refusal.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert {"context.actor", "channel", "content.subject"} <= violations_of(refused.refusal)
    for result in (first, second):  # the cases are stored, not just answered
        stored = await service.stub.GetCase(pb.GetCaseRequest(case_id=result.created.case_id))
        assert stored.number == result.created.number


async def test_a_key_twice_in_one_batch_creates_one_case(service: RunningService) -> None:
    reply = await service.stub.CreateCases(
        pb.CreateCasesRequest(cases=[create_request(key="same"), create_request(key="same")])
    )
    first, again = (result.created for result in reply.results)
    assert first.case_id == again.case_id and first.number == again.number
    replay = await service.stub.CreateCase(create_request(key="same"))
    assert replay.case_id == first.case_id


async def test_a_reused_key_with_other_content_is_refused_per_item(
    service: RunningService,
) -> None:
    await service.stub.CreateCase(create_request(key="used"))
    changed = create_request(key="used", login="someone-else")
    reply = await service.stub.CreateCases(
        pb.CreateCasesRequest(cases=[changed, create_request(key="fresh")])
    )
    refused, created = reply.results
    assert refused.refusal.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert violations_of(refused.refusal) == {"context.idempotency_key"}
    assert created.WhichOneof("outcome") == "created"


async def test_each_item_keeps_its_own_trace(service: RunningService) -> None:
    traced = create_request()
    traced.context.traceparent = TRACE
    reply = await service.stub.CreateCases(pb.CreateCasesRequest(cases=[traced]))
    case_id = reply.results[0].created.case_id
    events = service.app.events_after(case_id, 0)
    assert events and all(event.context.trace_parent == TRACE for event in events)


async def test_a_malformed_traceparent_is_refused(service: RunningService) -> None:
    request = create_request()
    request.context.traceparent = "not-a-trace"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.CreateCase(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {field for field, _ in field_violations(refused.value)} == {"context.traceparent"}


@pytest.mark.parametrize("size", [0, 257])
async def test_an_empty_or_oversized_batch_is_refused_whole(
    service: RunningService, size: int
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.CreateCases(
            pb.CreateCasesRequest(cases=[create_request() for _ in range(size)])
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {field for field, _ in field_violations(refused.value)} == {"cases"}
