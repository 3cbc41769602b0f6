"""An operator's reads of a case through intake are his: intake forwards his staff token (and
why he reads) with each GetCase it makes for him, so the case service journals the read under
his name; reads for a citizen or by a code holder forward no token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import grpc
import pytest
from intake_messages import (
    MASTER_KEY,
    as_operator,
    frontend_entries,
    identity_settings,
    metadata,
    operator_token,
    submission,
)

from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.__main__ import assembled, intake_server
from casedesk_intake.domain.acting import Caller, Operator
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.testing.case_stand_in import CaseServiceStandIn


class RecordingCases(CaseServiceStandIn):
    """The stand-in, also keeping the read metadata intake sent with every GetCase."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[dict[str, str]] = []

    async def GetCase(self, request, context):  # type: ignore[no-untyped-def]
        sent = dict(context.invocation_metadata() or ())
        self.reads.append({k: v for k, v in sent.items() if k.startswith("x-")})
        return await super().GetCase(request, context)


@pytest.fixture
async def running(
    tmp_path: Path,
) -> AsyncIterator[tuple[intake_grpc.IntakeServiceStub, RecordingCases]]:
    cases = RecordingCases()
    case_server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(cases, case_server)
    case_port = case_server.add_insecure_port("127.0.0.1:0")
    await case_server.start()
    settings = IntakeSettings(
        grpc_port=0, data_dir=tmp_path, master_key=MASTER_KEY, frontends=frontend_entries(),
        citizen_rate_per_s=1000.0, citizen_burst=1000.0, shutdown_grace_s=0.0,
        grpc_insecure_dev=True, **identity_settings(),  # type: ignore[arg-type]
    )  # fmt: skip
    case_channel = grpc.aio.insecure_channel(f"127.0.0.1:{case_port}")
    async with assembled(settings, case_channel) as parts:
        server = intake_server(settings, parts)
        port = await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield intake_grpc.IntakeServiceStub(channel), cases
        await server.stop(0)
    await case_channel.close()
    await case_server.stop(0)


async def test_an_operators_reads_carry_his_token_and_a_citizens_carry_none(running) -> None:
    stub, cases = running
    phone = await stub.SubmitCase(submission("PHONE"), metadata=as_operator())
    read = intake_pb2.GetCaseRequest(case_number=phone.number)
    await stub.GetCase(read, metadata=as_operator("contact-centre", "l2.petrov"))
    comment = intake_pb2.AddCommentRequest(idempotency_key="c", case_number=phone.number, body="x")
    await stub.AddComment(comment, metadata=as_operator("contact-centre", "l2.petrov"))
    petrov = operator_token("l2.petrov")
    assert [r.get("x-person-token") for r in cases.reads] == [petrov, petrov]
    assert {unquote(r["x-access-purpose"]) for r in cases.reads} == {
        "a citizen's request to an operator"
    }

    cases.reads.clear()
    own = await stub.SubmitCase(submission(), metadata=metadata())
    await stub.GetCase(intake_pb2.GetCaseRequest(case_number=own.number), metadata=metadata())
    assert cases.reads == [{}], "a citizen reading his own case is no person's read"


def test_the_operators_token_stays_out_of_logs_and_comparisons() -> None:
    operator = Operator("l2.petrov", "secret.jwt.value")
    assert "secret" not in repr(Caller(frontend_entries()[0], operator))  # type: ignore[arg-type]
    assert operator == Operator("l2.petrov", "a-fresher-token"), "the same operator"
