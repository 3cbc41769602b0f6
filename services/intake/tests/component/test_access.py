"""Frontend tokens, channel bindings, citizen ownership and rate limits (the citizens' proofs
in detail: test_citizens.py)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from intake_messages import metadata, refusal, submission

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.grpc_api.servicer import binding
from casedesk_runtime.grpc_server import GrpcServer


@pytest.mark.parametrize(
    "pairs",
    [
        (),
        (("authorization", "Bearer wrong-token"),),
        (("authorization", "Basic chat-token-0123456789"),),
        (("authorization", "Bearer "),),
    ],
)
async def test_unknown_or_missing_tokens_are_unauthenticated(intake, pairs) -> None:
    error = await refusal(intake.stub.SubmitCase(submission(), metadata=pairs))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert not intake.cases.commands


async def test_a_frontend_submits_only_on_its_channels(intake) -> None:
    error = await refusal(
        intake.stub.SubmitCase(submission("MFC"), metadata=metadata("portal-chat"))
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "MFC" in error.details()


async def test_only_the_mail_gateway_ingests_mail(intake) -> None:
    request = intake_pb2.IngestEmailRequest(idempotency_key="k", raw_message=b"From: a@b.ru\r\n")
    error = await refusal(intake.stub.IngestEmail(request, metadata=metadata("portal-chat")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("rpc", "request_message"),
    [
        ("GetCase", intake_pb2.GetCaseRequest(case_number="2026-0000001")),
        ("ListMyCases", intake_pb2.ListMyCasesRequest()),
        (
            "AddComment",
            intake_pb2.AddCommentRequest(idempotency_key="k", case_number="2026-0000001", body="x"),
        ),
    ],
)
async def test_citizen_calls_need_a_proof_of_the_citizen(intake, rpc: str, request_message) -> None:
    error = await refusal(getattr(intake.stub, rpc)(request_message, metadata=metadata(login=None)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-citizen-token" in error.details()


async def test_a_citizen_reads_and_comments_only_his_own_cases(intake) -> None:
    mine = await intake.stub.SubmitCase(submission(), metadata=metadata(login="ivanov.ii"))
    foreign = metadata(login="petrov.pp")
    read = await refusal(
        intake.stub.GetCase(intake_pb2.GetCaseRequest(case_number=mine.number), metadata=foreign)
    )
    comment = intake_pb2.AddCommentRequest(idempotency_key="c1", case_number=mine.number, body="x")
    commented = await refusal(intake.stub.AddComment(comment, metadata=foreign))
    assert read.code() == commented.code() == grpc.StatusCode.NOT_FOUND
    assert read.details() == commented.details() == "case not found"
    assert len(intake.cases.commands) == 1


@pytest.mark.parametrize("settings_overrides", [{"citizen_rate_per_s": 0.001, "citizen_burst": 2}])
async def test_a_citizen_over_his_rate_gets_resource_exhausted_with_retry_info(intake) -> None:
    for _ in range(2):
        await intake.stub.SubmitCase(submission(), metadata=metadata())
    error = await refusal(intake.stub.SubmitCase(submission(), metadata=metadata()))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(error)
    retry = error_details_pb2.RetryInfo()
    assert status is not None and status.details[0].Unpack(retry)
    assert retry.retry_delay.seconds > 100
    other = await intake.stub.SubmitCase(submission(), metadata=metadata(login="petrov.pp"))
    assert other.number, "another citizen is not limited"


@pytest.mark.parametrize(
    "settings_overrides", [{"frontend_rate_per_s": 0.001, "frontend_burst": 1}]
)
async def test_a_frontend_over_its_rate_is_limited(intake) -> None:
    await intake.stub.SubmitCase(submission(), metadata=metadata())
    error = await refusal(
        intake.stub.SubmitCase(submission(), metadata=metadata(login="petrov.pp"))
    )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "frontend" in error.details()


async def test_without_the_edge_the_servicer_serves_nobody(intake) -> None:
    # a server wired without FrontendEdge: every call fails closed, even with a valid token
    server = GrpcServer(intake.settings, [binding(intake.parts.servicer)])
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = intake_grpc.IntakeServiceStub(channel)
            error = await refusal(stub.SubmitCase(submission(), metadata=metadata()))
    finally:
        await server.stop(0)
    assert error.code() == grpc.StatusCode.INTERNAL
    assert not intake.cases.commands
