"""A long-lived client channel presents a renewed certificate without a restart.

A real grpc.aio server requiring client certificates records the serial of the certificate each
call came with; the client is a generated stub made once on `channel_for`'s channel, as intake's
and escalation's case clients are.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from casedesk_runtime import pki
from casedesk_runtime.grpc_client import RotatingChannel, channel_for
from casedesk_runtime.settings import ServiceSettings

DEADLINE_S = 10.0
SERVING = health_pb2.HealthCheckResponse.SERVING
# A HealthCheckRequest.service the server holds until released: a call in flight.
HELD = "held"


@dataclass
class RecordingHealth(health_pb2_grpc.HealthServicer):
    """Health service that notes the client certificate's serial and trace context of each call."""

    serials: list[int] = field(default_factory=list)
    traceparents: list[str] = field(default_factory=list)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def _note(self, context: grpc.aio.ServicerContext) -> None:
        (pem,) = context.auth_context()["x509_pem_cert"]
        self.serials.append(x509.load_pem_x509_certificate(pem).serial_number)
        metadata = dict(context.invocation_metadata() or ())
        self.traceparents.append(str(metadata.get("traceparent", "")))

    async def Check(self, request: object, context: grpc.aio.ServicerContext) -> object:
        self._note(context)
        if request.service == HELD:  # type: ignore[attr-defined]
            self.held.set()
            await self.release.wait()
        return health_pb2.HealthCheckResponse(status=SERVING)

    async def Watch(
        self, request: object, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[object]:
        self._note(context)
        yield health_pb2.HealthCheckResponse(status=SERVING)


@dataclass
class Server:
    port: int
    health: RecordingHealth


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, ["case", "intake"])
    return out


@pytest.fixture
async def server(pki_dir: Path) -> AsyncIterator[Server]:
    health = RecordingHealth()
    grpc_server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health, grpc_server)
    credentials = grpc.ssl_server_credentials(
        [((pki_dir / "case.key").read_bytes(), (pki_dir / "case.crt").read_bytes())],
        root_certificates=(pki_dir / pki.CA_CERT).read_bytes(),
        require_client_auth=True,
    )
    port = grpc_server.add_secure_port("127.0.0.1:0", credentials)
    await grpc_server.start()
    yield Server(port, health)
    health.release.set()
    await grpc_server.stop(0)


@pytest.fixture
def client_files(pki_dir: Path, tmp_path: Path) -> Path:
    """intake's certificate, key and CA where a mounted Secret would be, free to rotate."""
    for name in ("intake.crt", "intake.key", pki.CA_CERT):
        shutil.copyfile(pki_dir / name, tmp_path / name)
    return tmp_path


def _settings(files: Path) -> ServiceSettings:
    return ServiceSettings(
        tls_cert_file=str(files / "intake.crt"),
        tls_key_file=str(files / "intake.key"),
        tls_ca_file=str(files / pki.CA_CERT),
    )


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def _renewed(pki_dir: Path) -> pki.Issued:
    ca = pki.load_issued(pki_dir / pki.CA_CERT, pki_dir / pki.CA_KEY)
    assert ca is not None
    return pki.issue_identity(ca, "intake")


def _rotate(files: Path, renewed: pki.Issued, *, key: bool = True, cert: bool = True) -> None:
    # Each file replaced by a rename, as the kubelet's symlink swap does.
    if key:
        pki.write_atomically(files / "intake.key", renewed.key_pem(), 0o600)
    if cert:
        pki.write_atomically(files / "intake.crt", renewed.cert_pem(), 0o644)


async def _check(stub: health_pb2_grpc.HealthStub, service: str = "") -> int:
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=DEADLINE_S)
    return int(reply.status)


async def _cancelled(call: asyncio.Task[int]) -> None:
    """The call was cancelled by the client: through the tracing interceptor grpc.aio reports a
    local cancellation as CancelledError, without it as CANCELLED."""
    with pytest.raises((grpc.aio.AioRpcError, asyncio.CancelledError)) as ended:
        await asyncio.wait_for(call, DEADLINE_S)
    if isinstance(ended.value, grpc.aio.AioRpcError):
        assert ended.value.code() == grpc.StatusCode.CANCELLED


async def test_next_call_presents_the_rotated_certificate(
    server: Server, pki_dir: Path, client_files: Path
) -> None:
    old = _serial(client_files / "intake.crt")
    renewed = _renewed(pki_dir)
    async with channel_for(
        _settings(client_files), f"127.0.0.1:{server.port}", check_every_s=0
    ) as channel:
        assert isinstance(channel, RotatingChannel)
        stub = health_pb2_grpc.HealthStub(channel)  # made once, as the services' clients do
        assert await _check(stub) == SERVING

        # half a rotation: the new key without its certificate is not adopted
        _rotate(client_files, renewed, cert=False)
        assert await _check(stub) == SERVING
        assert server.health.serials == [old, old]

        _rotate(client_files, renewed, key=False)
        assert await _check(stub) == SERVING
        replies = [
            r.status async for r in stub.Watch(health_pb2.HealthCheckRequest(), timeout=DEADLINE_S)
        ]
        assert replies == [SERVING]
        new = renewed.cert.serial_number
        assert server.health.serials == [old, old, new, new]
        assert channel.serial == new


async def test_files_are_looked_at_no_more_often_than_asked(
    server: Server, pki_dir: Path, client_files: Path
) -> None:
    old = _serial(client_files / "intake.crt")
    channel = channel_for(_settings(client_files), f"127.0.0.1:{server.port}", check_every_s=3600)
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        await _check(stub)
        _rotate(client_files, _renewed(pki_dir))
        await _check(stub)
    assert server.health.serials == [old, old]


async def test_calls_in_flight_finish_on_the_old_channel(
    server: Server, pki_dir: Path, client_files: Path
) -> None:
    old = _serial(client_files / "intake.crt")
    renewed = _renewed(pki_dir)
    target = f"127.0.0.1:{server.port}"
    async with channel_for(_settings(client_files), target, check_every_s=0) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        in_flight = asyncio.create_task(_check(stub, HELD))
        await asyncio.wait_for(server.health.held.wait(), DEADLINE_S)
        _rotate(client_files, renewed)
        assert await _check(stub) == SERVING  # over the fresh channel, while the other waits
        server.health.release.set()
        assert await in_flight == SERVING  # the old channel was kept open for it
    assert server.health.serials == [old, renewed.cert.serial_number]


async def test_a_call_outlasting_the_grace_is_cancelled(
    server: Server, pki_dir: Path, client_files: Path
) -> None:
    target = f"127.0.0.1:{server.port}"
    channel = channel_for(_settings(client_files), target, check_every_s=0, retire_grace_s=0.2)
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        in_flight = asyncio.create_task(_check(stub, HELD))
        await asyncio.wait_for(server.health.held.wait(), DEADLINE_S)
        _rotate(client_files, _renewed(pki_dir))
        await _check(stub)
        await _cancelled(in_flight)


async def test_closing_ends_retiring_channels_at_once(
    server: Server, pki_dir: Path, client_files: Path
) -> None:
    target = f"127.0.0.1:{server.port}"
    channel = channel_for(_settings(client_files), target, check_every_s=0, retire_grace_s=3600)
    stub = health_pb2_grpc.HealthStub(channel)
    in_flight = asyncio.create_task(_check(stub, HELD))
    await asyncio.wait_for(server.health.held.wait(), DEADLINE_S)
    old = _serial(client_files / "intake.crt")
    renewed = _renewed(pki_dir)
    _rotate(client_files, renewed)
    await _check(stub)
    assert server.health.serials == [old, renewed.cert.serial_number]
    await asyncio.wait_for(channel.close(), DEADLINE_S)  # not the hour of the retirement
    await _cancelled(in_flight)


async def test_fresh_channel_keeps_carrying_the_trace_context(
    server: Server, pki_dir: Path, client_files: Path
) -> None:
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    parent = SpanContext(trace_id, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1))
    renewed = _renewed(pki_dir)
    async with channel_for(
        _settings(client_files), f"127.0.0.1:{server.port}", check_every_s=0
    ) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        _rotate(client_files, renewed)
        with trace.use_span(NonRecordingSpan(parent)):
            await _check(stub)
    assert server.health.serials == [renewed.cert.serial_number]  # the fresh channel's call
    (traceparent,) = server.health.traceparents
    assert f"{trace_id:032x}" in traceparent


async def test_insecure_dev_mode_gets_a_plain_channel() -> None:
    settings = ServiceSettings(grpc_insecure_dev=True)
    async with channel_for(settings, "127.0.0.1:9") as channel:
        assert not isinstance(channel, RotatingChannel)
