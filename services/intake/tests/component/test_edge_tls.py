"""Intake's public edge over real TLS: intake's own server (`intake_server`) on loopback with
certificates from `casedesk_runtime.pki`, frontends calling it with and without a client
certificate, a stand-in case service behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from intake_messages import (
    MASTER_KEY,
    frontend_entries,
    identity_settings,
    metadata,
    submission,
    upload,
)

from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.__main__ import Assembly, assembled, intake_server
from casedesk_intake.domain.request_limits import MIB
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.testing.case_stand_in import CaseServiceStandIn
from casedesk_runtime import pki
from casedesk_runtime.grpc_client import secure_channel
from casedesk_runtime.settings import ServiceSettings

DEADLINE_S = 10.0
NO_SEND_LIMIT = (("grpc.max_send_message_length", -1),)
STRANGER = (("authorization", "Bearer stolen-or-guessed-token-0042"),)


class HeldCases(CaseServiceStandIn):
    """ListCases waits until `release` is set: calls held in progress on intake's side."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.release = asyncio.Event()

    async def ListCases(self, request, context):  # type: ignore[no-untyped-def]
        self.waiting += 1
        try:
            await self.release.wait()
        finally:
            self.waiting -= 1
        return await super().ListCases(request, context)


@dataclass
class Edge:
    port: int
    parts: Assembly
    cases: HeldCases
    pki: Path
    decoded: list[int]  # SubmitCaseRequest messages intake deserialised

    def channel(self, identity: str | None = "frontend") -> grpc.aio.Channel:
        """A TLS channel presenting `identity`'s certificate; None: no client certificate."""
        target = f"127.0.0.1:{self.port}"
        if identity is None:
            credentials = grpc.ssl_channel_credentials((self.pki / pki.CA_CERT).read_bytes())
            return grpc.aio.secure_channel(target, credentials, options=NO_SEND_LIMIT)
        settings = ServiceSettings(
            tls_cert_file=str(self.pki / f"{identity}.crt"),
            tls_key_file=str(self.pki / f"{identity}.key"),
            tls_ca_file=str(self.pki / pki.CA_CERT),
        )
        return secure_channel(settings, target, options=NO_SEND_LIMIT)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, ["intake", "frontend", "operator", "case"])
    return out


@pytest.fixture
def edge_settings() -> dict[str, object]:
    return {}


@pytest.fixture
async def edge(
    tmp_path: Path,
    pki_dir: Path,
    edge_settings: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Edge]:
    decoded: list[int] = []
    decode = intake_pb2.SubmitCaseRequest.FromString

    def counting(raw: bytes) -> intake_pb2.SubmitCaseRequest:
        decoded.append(len(raw))
        return decode(raw)

    # read by the generated code when the server registers IntakeService (at start)
    monkeypatch.setattr(intake_pb2.SubmitCaseRequest, "FromString", staticmethod(counting))
    cases = HeldCases()
    case_server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(cases, case_server)
    case_port = case_server.add_insecure_port("127.0.0.1:0")
    await case_server.start()
    values: dict[str, object] = {
        "grpc_port": 0,
        "data_dir": tmp_path,
        "master_key": MASTER_KEY,
        "frontends": frontend_entries(),
        "citizen_rate_per_s": 1000.0,
        "citizen_burst": 1000.0,
        "shutdown_grace_s": 0.0,
        "tls_cert_file": str(pki_dir / "intake.crt"),
        "tls_key_file": str(pki_dir / "intake.key"),
        "tls_ca_file": str(pki_dir / pki.CA_CERT),
        **identity_settings(),
        **edge_settings,
    }
    settings = IntakeSettings(**values)  # type: ignore[arg-type]
    case_channel = grpc.aio.insecure_channel(f"127.0.0.1:{case_port}")
    try:
        async with assembled(settings, case_channel) as parts:
            server = intake_server(settings, parts)
            port = await server.start()
            try:
                yield Edge(port, parts, cases, pki_dir, decoded)
            finally:
                cases.release.set()
                await server.stop(0)
    finally:
        await case_channel.close()
        await case_server.stop(0)


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


async def _eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not condition():
            await asyncio.sleep(0.01)


def _with_attachment(size: int) -> intake_pb2.SubmitCaseRequest:
    request = submission()
    request.attachments.append(upload(b"%PDF-" + b"\x00" * (size - 5)))
    return request


# -- token before the message -----------------------------------------------------------------


@pytest.mark.parametrize("size", [4 * MIB, 6 * MIB])  # under and over the receive limit
async def test_a_large_message_without_a_valid_token_is_refused_unread(edge: Edge, size) -> None:
    big = _with_attachment(size)
    async with edge.channel() as channel:
        stub = intake_grpc.IntakeServiceStub(channel)
        for pairs in [(), STRANGER]:
            error = await _refused(stub.SubmitCase(big, metadata=pairs, timeout=DEADLINE_S))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "stolen-or-guessed" not in (error.details() or "")
        assert edge.decoded == [], "the refused messages were never deserialised"
        assert not edge.cases.commands
        # the spy does see what is read: a small valid call is deserialised once
        reply = await stub.SubmitCase(submission(), metadata=metadata(), timeout=DEADLINE_S)
    assert reply.number and len(edge.decoded) == 1


async def test_a_message_over_the_receive_limit_is_resource_exhausted(edge: Edge) -> None:
    async with edge.channel() as channel:
        stub = intake_grpc.IntakeServiceStub(channel)
        error = await _refused(
            stub.SubmitCase(_with_attachment(6 * MIB), metadata=metadata(), timeout=DEADLINE_S)
        )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in (error.details() or "")
    assert edge.decoded == [] and not edge.cases.commands
    await _eventually(lambda: edge.parts.edge.per_frontend.active("desk-all") == 0)


# -- calls in progress per frontend -----------------------------------------------------------


@pytest.mark.parametrize("edge_settings", [{"frontend_max_concurrent_calls": 2}])
async def test_one_call_over_a_frontends_limit_is_refused_at_once(edge: Edge) -> None:
    listing = intake_pb2.ListMyCasesRequest()
    async with edge.channel() as channel:
        stub = intake_grpc.IntakeServiceStub(channel)

        def list_cases() -> Any:
            return stub.ListMyCases(listing, metadata=metadata("desk-all"), timeout=DEADLINE_S)

        held = [asyncio.ensure_future(list_cases()) for _ in range(2)]
        await _eventually(lambda: edge.cases.waiting == 2)
        error = await _refused(
            stub.SubmitCase(_with_attachment(MIB), metadata=metadata("desk-all"))
        )
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "desk-all already has 2 calls in progress" in (error.details() or "")
        assert "CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS" in (error.details() or "")
        assert edge.decoded == [], "refused before its message was read"
        other = await stub.SubmitCase(
            submission("PORTAL_CHAT"), metadata=metadata("portal-chat"), timeout=DEADLINE_S
        )
        assert other.number, "another frontend is not held up"

        edge.cases.release.set()
        await asyncio.gather(*held)
        # the slots are free as soon as the replies are in
        assert edge.parts.edge.per_frontend.active("desk-all") == 0
        again = await asyncio.gather(list_cases(), list_cases())
        assert len(again) == 2

        edge.cases.release.clear()
        cancelled = list_cases()
        await _eventually(lambda: edge.cases.waiting == 1)
        cancelled.cancel()
        await _eventually(lambda: edge.parts.edge.per_frontend.active("desk-all") == 0)


# -- certificates and tokens ------------------------------------------------------------------


async def test_mutual_tls_needs_the_frontend_certificate_and_a_token(edge: Edge) -> None:
    async with edge.channel("case") as channel:
        stub = intake_grpc.IntakeServiceStub(channel)
        error = await _refused(stub.SubmitCase(submission(), metadata=metadata()))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "spiffe://casedesk/case" in (error.details() or "")
    async with edge.channel(None) as channel:  # no client certificate: no handshake
        stub = intake_grpc.IntakeServiceStub(channel)
        error = await _refused(stub.SubmitCase(submission(), metadata=metadata()))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert not edge.cases.commands


@pytest.mark.parametrize("edge_settings", [{"tls_client_auth": "optional"}])
async def test_with_optional_client_auth_the_token_alone_admits_a_frontend(edge: Edge) -> None:
    async with edge.channel(None) as channel:
        stub = intake_grpc.IntakeServiceStub(channel)
        reply = await stub.SubmitCase(submission(), metadata=metadata(), timeout=DEADLINE_S)
        assert reply.number
        error = await _refused(stub.SubmitCase(_with_attachment(4 * MIB), metadata=STRANGER))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert len(edge.decoded) == 1
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=DEADLINE_S
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("edge_settings", [{"tls_client_auth": "optional"}])
async def test_with_optional_client_auth_nothing_else_is_reachable_without_a_certificate(
    edge: Edge,
) -> None:
    async with edge.channel(None) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        # No request iterator: the refusal comes with the call's headers, and a
        # message written concurrently could lose the race to it and end the call
        # with the client's own INTERNAL instead of the server's answer.
        replies = reflection.ServerReflectionInfo(
            metadata=metadata(),  # a frontend token does not stand in for a certificate
            timeout=DEADLINE_S,
        )
        code = await replies.code()
        details = await replies.details()
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "an unauthenticated caller may not call" in (details or "")


async def test_reflection_stays_open_to_the_operator_certificate(edge: Edge) -> None:
    async with edge.channel("operator") as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=DEADLINE_S
        )
        services = [
            service.name
            async for reply in replies
            for service in reply.list_services_response.service
        ]
    assert "casedesk.intake.v1.IntakeService" in services
