"""The case service's stand-ins answer as the real service does, wherever their suites rely on it.

Intake's and escalation's fast suites run against in-memory stand-ins of the case service. Each
contract below runs the same calls and assertions against the real case service (a process on
SQLite, through gRPC) and against the stand-in, so a stand-in that drifts from the real service
(as intake's once answered a reused idempotency key with ALREADY_EXISTS) fails here, not in
production.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2 as S
from casedesk_escalation.testing.case_standin import StandInCaseService, serve_standin
from casedesk_intake.testing.case_stand_in import CaseServiceStandIn
from casedesk_runtime.grpc_client import insecure_channel

pytestmark = pytest.mark.integration


@dataclass
class Target:
    stub: case_grpc.CaseServiceStub
    new_case: Callable[[], Awaitable[str]]  # a case at tier L1, status REGISTERED: its id


def context(actor: int = S.Actor.SYSTEM, actor_id: str = "intake", key: str = "") -> Any:
    return pb.CommandContext(
        idempotency_key=key or str(uuid.uuid4()), actor=S.Actor(kind=actor, id=actor_id)
    )


def create_request(key: str = "", subject: str = "Не приходит СМС-код") -> pb.CreateCaseRequest:
    return pb.CreateCaseRequest(
        context=context(key=key),
        channel=S.PORTAL_CHAT,
        type=S.TECHNICAL,
        category=S.TECHNICAL_FAULT,
        citizen=S.Citizen(account_login="ivanov.ii", mobile_phone="+79161234567"),
        content=S.CaseContent(subject=subject, description="Код не приходит"),
        provenance=S.Provenance(chat=S.ChatOrigin(session_id="chat-1")),
    )


@pytest.fixture
async def real(services: Any, tmp_path: Path) -> AsyncIterator[Target]:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "cases.sqlite"),
        "CASEDESK_RELAY_ENABLED": "false",  # Kafka plays no part in these answers
    }
    service = services("casedesk_case", env)
    async with insecure_channel(service.address) as channel:
        stub = case_grpc.CaseServiceStub(channel)

        async def new_case() -> str:
            return (await stub.CreateCase(create_request())).case_id

        yield Target(stub, new_case)


async def _served(servicer: Any) -> AsyncIterator[Target]:
    server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = case_grpc.CaseServiceStub(channel)

            async def new_case() -> str:
                return (await stub.CreateCase(create_request())).case_id

            yield Target(stub, new_case)
    finally:
        await server.stop(grace=None)


@pytest.fixture
async def intake_stand_in() -> AsyncIterator[Target]:
    async for target in _served(CaseServiceStandIn()):
        yield target


@pytest.fixture
async def escalation_stand_in() -> AsyncIterator[Target]:
    servicer = StandInCaseService()
    server, address = await serve_standin(servicer)
    try:
        async with insecure_channel(address) as channel:

            async def new_case() -> str:  # its cases appear at L1 when first named
                return str(uuid.uuid4())

            yield Target(case_grpc.CaseServiceStub(channel), new_case)
    finally:
        await server.stop(grace=None)


@pytest.fixture(params=["real", "intake_stand_in"])
def for_intake(request: pytest.FixtureRequest) -> Target:
    """What intake relies on: creating, retrying, refusing, reading, repeating."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["real", "escalation_stand_in"])
def for_escalation(request: pytest.FixtureRequest) -> Target:
    """What escalation relies on: escalating once per key, only upwards."""
    return request.getfixturevalue(request.param)


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    fields = []
    for detail in status.details if status else ():
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            fields += [v.field for v in bad_request.field_violations]
    return fields


# --- intake's contract -----------------------------------------------------------------------


async def test_a_new_case_is_registered_at_l1_with_a_readable_number(for_intake: Target) -> None:
    case = await for_intake.stub.CreateCase(create_request())
    assert re.fullmatch(r"\d{4}-\d{7}", case.number)
    assert (case.status, case.tier) == (S.REGISTERED, S.L1)
    again = await for_intake.stub.GetCase(pb.GetCaseRequest(case_id=case.case_id))
    assert again.number == case.number


async def test_a_retry_under_the_same_key_returns_the_same_case(for_intake: Target) -> None:
    key = str(uuid.uuid4())
    first = await for_intake.stub.CreateCase(create_request(key))
    second = await for_intake.stub.CreateCase(create_request(key))
    assert second.case_id == first.case_id and second.number == first.number


async def test_a_key_reused_for_another_command_is_invalid_argument_naming_the_key(
    for_intake: Target,
) -> None:
    key = str(uuid.uuid4())
    await for_intake.stub.CreateCase(create_request(key, subject="Первая тема"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await for_intake.stub.CreateCase(create_request(key, subject="Другая тема"))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(refused.value) == ["context.idempotency_key"]


async def test_a_batch_answers_each_item_and_refuses_only_the_reused_key(
    for_intake: Target,
) -> None:
    key = str(uuid.uuid4())
    await for_intake.stub.CreateCase(create_request(key, subject="Первая тема"))
    batch = pb.CreateCasesRequest(
        cases=[create_request(), create_request(key, subject="Другая тема")]
    )
    results = (await for_intake.stub.CreateCases(batch)).results
    assert [r.WhichOneof("outcome") for r in results] == ["created", "refusal"]
    assert results[1].refusal.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_an_unknown_case_is_not_found(for_intake: Target) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await for_intake.stub.GetCase(pb.GetCaseRequest(case_id=str(uuid.uuid4())))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    comment = pb.AddCommentRequest(
        context=context(S.Actor.CITIZEN, "ivanov.ii"), case_id=str(uuid.uuid4()), body="Где?"
    )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await for_intake.stub.AddComment(comment)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND


async def test_only_an_answered_case_can_be_repeated(for_intake: Target) -> None:
    case_id = await for_intake.new_case()
    repeat = pb.RepeatCaseRequest(context=context(S.Actor.CITIZEN, "ivanov.ii"), case_id=case_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await for_intake.stub.RepeatCase(repeat)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


# --- escalation's contract -------------------------------------------------------------------


def escalate(case_id: str, to_tier: int, key: str = "") -> pb.EscalateRequest:
    return pb.EscalateRequest(
        context=context(S.Actor.SYSTEM, "escalation", key),
        case_id=case_id,
        to_tier=to_tier,  # type: ignore[arg-type]
        reason=events_pb2.NO_ANSWER_IN_TIME,
    )


async def test_an_escalation_moves_the_case_up_once_per_key(for_escalation: Target) -> None:
    case_id = await for_escalation.new_case()
    key = str(uuid.uuid4())
    first = await for_escalation.stub.Escalate(escalate(case_id, S.L2, key))
    retried = await for_escalation.stub.Escalate(escalate(case_id, S.L2, key))
    assert first.tier == retried.tier == S.L2
    assert retried.version == first.version  # the retry applied nothing


async def test_an_escalation_that_does_not_go_up_is_a_failed_precondition(
    for_escalation: Target,
) -> None:
    case_id = await for_escalation.new_case()
    await for_escalation.stub.Escalate(escalate(case_id, S.L2))
    for tier in (S.L2, S.L1):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await for_escalation.stub.Escalate(escalate(case_id, tier))
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
