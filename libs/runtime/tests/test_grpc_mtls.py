"""Mutual TLS and per-caller authorisation, on loopback with real certificates from `pki`."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from casedesk_runtime import pki
from casedesk_runtime.grpc_authz import (
    ANY_SERVICE,
    INSECURE_DEV_CALLER,
    PUBLIC,
    REFLECTION,
    AccessTable,
    Caller,
    caller_from_auth_context,
    current_caller,
    is_allowed,
    validate_access_table,
)
from casedesk_runtime.grpc_client import channel_for, insecure_channel, secure_channel
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.grpc_tls import TlsFilesError, TlsNotConfigured
from casedesk_runtime.settings import ServiceSettings, SettingsError, load_settings

SERVICE = "casedesk.test.v1.Echo"
WHO = f"/{SERVICE}/Who"
WATCH = f"/{SERVICE}/Watch"
OPEN = f"/{SERVICE}/Open"
ACCESS: AccessTable = {
    WHO: {"intake"},
    f"/{SERVICE}/*": {"intake", "sla"},  # Watch; Who is listed exactly, so sla may not call it
    OPEN: {PUBLIC},
    REFLECTION: {"intake"},
}
DEADLINE_S = 10.0


def _who(caller: Caller | None) -> bytes:
    if caller is None:
        return b"<none>"
    return f"{caller.name}|{caller.verified}".encode()


def _echo_binding() -> Any:
    async def who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return _who(current_caller())

    async def watch(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for _ in range(2):
            yield _who(current_caller())

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Who": grpc.unary_unary_rpc_method_handler(who),
            "Open": grpc.unary_unary_rpc_method_handler(who),
            "Watch": grpc.unary_stream_rpc_method_handler(watch),
        },
    )
    return (lambda servicer, server: server.add_generic_rpc_handlers((handler,)), None, SERVICE)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, ["case", "intake", "sla"])
    return out


def _settings(pki_dir: Path, name: str, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(
        grpc_port=0,
        tls_cert_file=str(pki_dir / f"{name}.crt"),
        tls_key_file=str(pki_dir / f"{name}.key"),
        tls_ca_file=str(pki_dir / pki.CA_CERT),
        **overrides,
    )


async def _serving(settings: ServiceSettings, access: AccessTable = ACCESS) -> GrpcServer:
    server = GrpcServer(settings, [_echo_binding()], access=access)
    await server.start()
    return server


@pytest.fixture
async def server(pki_dir: Path) -> AsyncIterator[GrpcServer]:
    server = await _serving(_settings(pki_dir, "case"))
    yield server
    await server.stop(0)


def _target(server: GrpcServer) -> str:
    return f"127.0.0.1:{server.port}"


async def _call(channel: grpc.aio.Channel, method: str = WHO) -> bytes:
    return await channel.unary_unary(method)(b"", timeout=DEADLINE_S)


async def _health(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=DEADLINE_S
    )
    return reply.status


async def _refused(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value


# -- authorisation ----------------------------------------------------------------------------


async def test_allowed_identity_calls_and_servicer_sees_it(
    server: GrpcServer, pki_dir: Path
) -> None:
    async with secure_channel(_settings(pki_dir, "intake"), _target(server)) as channel:
        assert await _call(channel) == b"intake|True"
        replies = [r async for r in channel.unary_stream(WATCH)(b"", timeout=DEADLINE_S)]
        assert replies == [b"intake|True", b"intake|True"]


async def test_other_identity_is_denied_naming_rpc_and_caller(
    server: GrpcServer, pki_dir: Path
) -> None:
    async with channel_for(_settings(pki_dir, "sla"), _target(server)) as channel:
        error = await _refused(_call(channel, WHO))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert WHO in error.details()
        assert "spiffe://casedesk/sla" in error.details()
        # the service's wildcard grants sla the other methods: the exact key did not
        replies = [r async for r in channel.unary_stream(WATCH)(b"", timeout=DEADLINE_S)]
        assert replies == [b"sla|True", b"sla|True"]


async def test_unlisted_identity_denied_everything_but_health(
    server: GrpcServer, pki_dir: Path
) -> None:
    # the server's own identity is listed nowhere in the table: default deny
    async with secure_channel(_settings(pki_dir, "case"), _target(server)) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        error = await _refused(_call(channel, WHO))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        error = await _refused(channel.unary_stream(WATCH)(b"", timeout=DEADLINE_S).read())
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert WATCH in error.details()


async def _list_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for reply in stub.ServerReflectionInfo(iter([request]), timeout=DEADLINE_S):
        return {s.name for s in reply.list_services_response.service}
    raise AssertionError("no reflection reply")


async def test_reflection_only_for_identities_listed_under_reflection(
    server: GrpcServer, pki_dir: Path
) -> None:
    async with secure_channel(_settings(pki_dir, "intake"), _target(server)) as channel:
        assert SERVICE in await _list_services(channel)
    async with secure_channel(_settings(pki_dir, "sla"), _target(server)) as channel:
        error = await _refused(_list_services(channel))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "ServerReflection" in error.details()


async def test_plaintext_health_port_serves_health_only(pki_dir: Path) -> None:
    server = await _serving(_settings(pki_dir, "case", grpc_health_port=0))
    try:
        assert server.health_port and server.health_port != server.port
        async with insecure_channel(f"127.0.0.1:{server.health_port}") as channel:
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
            error = await _refused(_call(channel, OPEN))
            assert error.code() == grpc.StatusCode.UNIMPLEMENTED
            await server.stop(0)  # the health listener stops with the server
            error = await _refused(_health(channel))
    finally:
        await server.stop(0)


# -- transport --------------------------------------------------------------------------------


async def test_plaintext_client_cannot_talk_to_tls_server(server: GrpcServer) -> None:
    async with insecure_channel(_target(server)) as channel:
        error = await _refused(_health(channel))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_without_certificate_fails_handshake_when_required(
    server: GrpcServer, pki_dir: Path
) -> None:
    credentials = grpc.ssl_channel_credentials((pki_dir / pki.CA_CERT).read_bytes())
    async with grpc.aio.secure_channel(_target(server), credentials) as channel:
        # not even health: the handshake itself fails, nothing reaches a handler
        error = await _refused(_health(channel))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        error = await _refused(_call(channel))
        assert error.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_certificate_from_another_ca_is_refused(
    server: GrpcServer, tmp_path: Path, pki_dir: Path
) -> None:
    pki.ensure_pki(tmp_path, ["intake"])  # a CA of its own, the same identity name
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki_dir / pki.CA_CERT).read_bytes(),  # trusts the server
        private_key=(tmp_path / "intake.key").read_bytes(),
        certificate_chain=(tmp_path / "intake.crt").read_bytes(),
    )
    async with grpc.aio.secure_channel(_target(server), credentials) as channel:
        error = await _refused(_call(channel))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


async def test_optional_client_auth_serves_callers_without_certificate(pki_dir: Path) -> None:
    server = await _serving(_settings(pki_dir, "case", tls_client_auth="optional"))
    try:
        credentials = grpc.ssl_channel_credentials((pki_dir / pki.CA_CERT).read_bytes())
        async with grpc.aio.secure_channel(_target(server), credentials) as channel:
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
            assert await _call(channel, OPEN) == b"None|False"
            error = await _refused(_call(channel, WHO))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "unauthenticated caller" in error.details()
    finally:
        await server.stop(0)


# -- rotation ---------------------------------------------------------------------------------


def _served_serial(port: int, pki_dir: Path) -> int:
    """Open a new TLS connection to the server and return the serial of the certificate seen."""
    context = ssl.create_default_context(cafile=str(pki_dir / pki.CA_CERT))
    context.load_cert_chain(pki_dir / "intake.crt", pki_dir / "intake.key")
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


async def _eventually_serial(port: int, pki_dir: Path, expected: int) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while (seen := await asyncio.to_thread(_served_serial, port, pki_dir)) != expected:
        assert time.monotonic() < deadline, f"still serving serial {seen:x}, not {expected:x}"
        await asyncio.sleep(0.05)


async def test_rotated_certificate_is_served_to_new_connections(
    tmp_path: Path, pki_dir: Path
) -> None:
    # the server's files live apart, so rotating them leaves the module's PKI alone
    served = tmp_path / "served"
    served.mkdir()
    for name in (pki.CA_CERT, "case.crt", "case.key"):
        (served / name).write_bytes((pki_dir / name).read_bytes())
    settings = ServiceSettings(
        grpc_port=0,
        tls_cert_file=str(served / "case.crt"),
        tls_key_file=str(served / "case.key"),
        tls_ca_file=str(served / pki.CA_CERT),
    )
    server = await _serving(settings)
    try:
        old_serial = x509.load_pem_x509_certificate(
            (served / "case.crt").read_bytes()
        ).serial_number
        assert await asyncio.to_thread(_served_serial, server.port, pki_dir) == old_serial
        async with secure_channel(_settings(pki_dir, "intake"), _target(server)) as established:
            assert await _call(established) == b"intake|True"
            ca = pki.load_issued(pki_dir / pki.CA_CERT, pki_dir / pki.CA_KEY)
            assert ca is not None
            renewed = pki.issue_identity(ca, "case")
            new_serial = renewed.cert.serial_number

            # half a rotation (the new key without its certificate) is not adopted
            pki.write_atomically(served / "case.key", renewed.key_pem(), 0o600)
            assert await asyncio.to_thread(_served_serial, server.port, pki_dir) == old_serial
            async with secure_channel(_settings(pki_dir, "intake"), _target(server)) as channel:
                assert await _call(channel) == b"intake|True"

            pki.write_atomically(served / "case.crt", renewed.cert_pem(), 0o644)
            await _eventually_serial(server.port, pki_dir, new_serial)
            assert server.certificates is not None
            assert server.certificates.material.serial == new_serial
            async with secure_channel(_settings(pki_dir, "intake"), _target(server)) as channel:
                assert await _call(channel) == b"intake|True"
            assert await _call(established) == b"intake|True"  # kept its connection
    finally:
        await server.stop(0)


# -- configuration ----------------------------------------------------------------------------


def test_server_refuses_to_start_without_tls_or_dev_setting() -> None:
    with pytest.raises(TlsNotConfigured) as error:
        GrpcServer(ServiceSettings(grpc_port=0), [_echo_binding()], access=ACCESS)
    message = str(error.value)
    for variable in ("CASEDESK_TLS_CERT_FILE", "CASEDESK_TLS_KEY_FILE", "CASEDESK_TLS_CA_FILE"):
        assert variable in message
    assert "CASEDESK_GRPC_INSECURE_DEV=true" in message
    assert "grpc_insecure_dev=True" in message


def test_client_refuses_plaintext_without_dev_setting() -> None:
    with pytest.raises(TlsNotConfigured):
        channel_for(ServiceSettings(), "127.0.0.1:9")
    with pytest.raises(TlsNotConfigured):
        secure_channel(ServiceSettings(grpc_insecure_dev=True), "127.0.0.1:9")


async def test_insecure_dev_mode_serves_plaintext_and_allows_every_call() -> None:
    settings = ServiceSettings(grpc_port=0, grpc_insecure_dev=True)
    server = await _serving(settings, access={})
    try:
        async with channel_for(settings, _target(server)) as channel:
            assert await _call(channel, WHO) == _who(INSECURE_DEV_CALLER)
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


def test_partial_tls_settings_name_the_missing_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEDESK_TLS_CERT_FILE", "/etc/casedesk/tls.crt")
    monkeypatch.setenv("CASEDESK_TLS_CA_FILE", "/etc/casedesk/ca.crt")
    with pytest.raises(SettingsError) as error:
        load_settings(ServiceSettings)
    assert "missing: CASEDESK_TLS_KEY_FILE" in str(error.value)


def test_settings_read_tls_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_TLS_CERT_FILE", "/t/c.crt")
    monkeypatch.setenv("CASEDESK_TLS_KEY_FILE", "/t/c.key")
    monkeypatch.setenv("CASEDESK_TLS_CA_FILE", "/t/ca.crt")
    monkeypatch.setenv("CASEDESK_TLS_CLIENT_AUTH", "optional")
    monkeypatch.setenv("CASEDESK_GRPC_INSECURE_DEV", "true")
    settings = load_settings(ServiceSettings)
    assert (settings.tls_key_file, settings.tls_client_auth) == ("/t/c.key", "optional")
    assert settings.grpc_insecure_dev is True
    monkeypatch.setenv("CASEDESK_TLS_CLIENT_AUTH", "sometimes")
    with pytest.raises(SettingsError, match="CASEDESK_TLS_CLIENT_AUTH"):
        load_settings(ServiceSettings)


async def test_key_not_matching_certificate_stops_the_start(pki_dir: Path) -> None:
    settings = _settings(pki_dir, "case").model_copy(
        update={"tls_key_file": str(pki_dir / "intake.key")}
    )
    server = GrpcServer(settings, [_echo_binding()], access=ACCESS)
    with pytest.raises(TlsFilesError, match="CASEDESK_TLS_KEY_FILE"):
        await server.start()
    await server.stop(0)


def test_access_table_is_checked_against_what_the_server_serves() -> None:
    validate_access_table(ACCESS, [SERVICE])
    with pytest.raises(ValueError, match=r"does not serve casedesk\.case\.v1\.CaseService"):
        validate_access_table({"/casedesk.case.v1.CaseService/CreateCase": {"intake"}}, [SERVICE])
    with pytest.raises(ValueError, match="has no method Chek"):
        validate_access_table({"/grpc.health.v1.Health/Chek": {"sla"}}, ["grpc.health.v1.Health"])
    with pytest.raises(ValueError, match="not a string"):
        validate_access_table({WHO: "intake"}, [SERVICE])
    with pytest.raises(ValueError, match="not an identity name"):
        validate_access_table({WHO: {"spiffe://casedesk/intake"}}, [SERVICE])
    with pytest.raises(ValueError, match="expected"):
        validate_access_table({"CreateCase": {"intake"}}, [SERVICE])
    with pytest.raises(ValueError):
        GrpcServer(
            ServiceSettings(grpc_insecure_dev=True), [_echo_binding()], access={"/x.Y/Z": {"a"}}
        )


# -- pure functions ---------------------------------------------------------------------------


def test_is_allowed() -> None:
    intake = Caller("intake", "spiffe://casedesk/intake", verified=True)
    sla = Caller("sla", "spiffe://casedesk/sla", verified=True)
    anonymous = Caller(None, None, verified=False)
    table: AccessTable = {WHO: {"intake"}, WATCH: {ANY_SERVICE}, OPEN: {PUBLIC}}
    assert is_allowed(table, WHO, intake) and not is_allowed(table, WHO, sla)
    assert is_allowed(table, WATCH, sla) and not is_allowed(table, WATCH, anonymous)
    assert is_allowed(table, OPEN, anonymous)
    assert is_allowed({}, "/grpc.health.v1.Health/Check", anonymous)
    assert not is_allowed({}, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", sla)
    assert not is_allowed({}, WHO, intake)  # default deny


def test_caller_from_auth_context() -> None:
    pem = [b"-----BEGIN CERTIFICATE-----..."]
    assert caller_from_auth_context({"x509_pem_cert": pem, "peer_uri": [b"spiffe://casedesk/sla"]})
    assert caller_from_auth_context(
        {"x509_pem_cert": pem, "peer_uri": [b"spiffe://casedesk/sla"]}
    ) == Caller("sla", "spiffe://casedesk/sla", verified=True)
    foreign = caller_from_auth_context({"x509_pem_cert": pem, "peer_uri": [b"spiffe://other/sla"]})
    assert foreign.name is None and foreign.verified
    two = caller_from_auth_context(
        {"x509_pem_cert": pem, "peer_uri": [b"spiffe://casedesk/a", b"spiffe://casedesk/b"]}
    )
    assert two.name is None
    bad = caller_from_auth_context({"x509_pem_cert": pem, "peer_uri": [b"spiffe://casedesk/A/b"]})
    assert bad.name is None
    assert caller_from_auth_context({}) == Caller(None, None, verified=False)
