"""Requests decoded after authorisation: bytes that are no request message get INVALID_ARGUMENT,
an unauthorised caller its PERMISSION_DENIED without its request ever being parsed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from casedesk_runtime import pki
from casedesk_runtime.grpc_authz import REFLECTION, AccessTable
from casedesk_runtime.grpc_client import secure_channel
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.grpc_undecodable import undecodable_field
from casedesk_runtime.settings import ServiceSettings

SERVICE = "casedesk.test.v1.Greeter"
SAY = f"/{SERVICE}/Say"
WATCH = f"/{SERVICE}/Watch"
REFLECTION_INFO = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
ACCESS: AccessTable = {f"/{SERVICE}/*": {"intake"}, REFLECTION: {"intake"}}
REQUEST_TYPE = health_pb2.HealthCheckRequest.DESCRIPTOR.full_name
# HealthCheckRequest's field 1 (`service`, a string) holding bytes that are not UTF-8.
NOT_UTF8 = bytes.fromhex("0a03fffefd")
TRUNCATED = bytes.fromhex("0a05616263")  # field 1 announces 5 bytes, 3 follow
DEADLINE_S = 10.0


class Parser:
    """The request type's FromString, counting the requests it parsed. Its `__self__` is the
    message class, as a generated stub's `Request.FromString`'s is: a method unknown to the
    descriptor pool has its request type found there."""

    __self__ = health_pb2.HealthCheckRequest

    def __init__(self) -> None:
        self.parsed = 0

    def __call__(self, raw: bytes) -> health_pb2.HealthCheckRequest:
        self.parsed += 1
        return health_pb2.HealthCheckRequest.FromString(raw)


class Spy:
    def __init__(self) -> None:
        self.decode = Parser()
        self.served: list[str] = []


def _binding(spy: Spy) -> Any:
    async def say(
        request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        spy.served.append(request.service)
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    async def watch(
        request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        spy.served.append(request.service)
        for _ in range(2):
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    reply = health_pb2.HealthCheckResponse.SerializeToString
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Say": grpc.unary_unary_rpc_method_handler(say, spy.decode, reply),
            "Watch": grpc.unary_stream_rpc_method_handler(
                watch, health_pb2.HealthCheckRequest.FromString, reply
            ),
        },
    )
    return (lambda servicer, server: server.add_generic_rpc_handlers((handler,)), None, SERVICE)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, ["case", "intake", "sla"])
    return out


def _settings(pki_dir: Path, name: str) -> ServiceSettings:
    return ServiceSettings(
        grpc_port=0,
        tls_cert_file=str(pki_dir / f"{name}.crt"),
        tls_key_file=str(pki_dir / f"{name}.key"),
        tls_ca_file=str(pki_dir / pki.CA_CERT),
    )


@pytest.fixture
def spy() -> Spy:
    return Spy()


@pytest.fixture
async def server(pki_dir: Path, spy: Spy) -> AsyncIterator[GrpcServer]:
    server = GrpcServer(_settings(pki_dir, "case"), [_binding(spy)], access=ACCESS)
    await server.start()
    yield server
    await server.stop(0)


async def _failure(pki_dir: Path, server: GrpcServer, name: str, call: Any) -> Any:
    async with secure_channel(_settings(pki_dir, name), f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(channel)
    return error.value


async def _say(channel: grpc.aio.Channel, raw: bytes) -> bytes:
    return await channel.unary_unary(SAY)(raw, timeout=DEADLINE_S)


async def test_an_undecodable_request_is_invalid_argument_naming_rpc_type_and_field(
    server: GrpcServer, pki_dir: Path, spy: Spy
) -> None:
    error = await _failure(pki_dir, server, "intake", lambda c: _say(c, NOT_UTF8))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"the request to {SAY} is not a valid {REQUEST_TYPE} message"
    assert field_violations(error) == [("service", f"does not decode as a field of {REQUEST_TYPE}")]
    assert spy.served == []


async def test_a_valid_request_reaches_the_servicer_decoded(
    server: GrpcServer, pki_dir: Path, spy: Spy
) -> None:
    request = health_pb2.HealthCheckRequest(service="приём").SerializeToString()
    async with secure_channel(_settings(pki_dir, "intake"), f"127.0.0.1:{server.port}") as channel:
        reply = health_pb2.HealthCheckResponse.FromString(await _say(channel, request))
        streamed = [m async for m in channel.unary_stream(WATCH)(request, timeout=DEADLINE_S)]
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert len(streamed) == 2
    assert spy.served == ["приём", "приём"]


async def test_an_unauthorised_caller_is_refused_and_its_request_never_parsed(
    server: GrpcServer, pki_dir: Path, spy: Spy
) -> None:
    for raw in (NOT_UTF8, health_pb2.HealthCheckRequest(service="x").SerializeToString()):
        error = await _failure(pki_dir, server, "sla", lambda c, raw=raw: _say(c, raw))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert SAY in error.details()
    assert spy.decode.parsed == 0
    assert spy.served == []


async def test_a_streaming_rpc_refuses_an_undecodable_request_naming_the_field(
    server: GrpcServer, pki_dir: Path, spy: Spy
) -> None:
    async def watch(channel: grpc.aio.Channel) -> list[bytes]:
        return [m async for m in channel.unary_stream(WATCH)(NOT_UTF8, timeout=DEADLINE_S)]

    error = await _failure(pki_dir, server, "intake", watch)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert REQUEST_TYPE in error.details() and WATCH in error.details()
    assert [field for field, _ in field_violations(error)] == ["service"]
    assert spy.served == []


async def test_truncated_bytes_are_invalid_argument_without_a_field(
    server: GrpcServer, pki_dir: Path
) -> None:
    async def watch(channel: grpc.aio.Channel) -> list[bytes]:
        return [m async for m in channel.unary_stream(WATCH)(TRUNCATED, timeout=DEADLINE_S)]

    error = await _failure(pki_dir, server, "intake", watch)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == []


async def test_a_client_stream_is_decoded_message_by_message(
    server: GrpcServer, pki_dir: Path
) -> None:
    """Reflection reads a stream of requests: a valid one is answered, the undecodable one
    after it ends the call with INVALID_ARGUMENT naming its field."""
    valid = reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString()
    host_not_utf8 = NOT_UTF8  # ServerReflectionRequest's field 1 is `host`, a string too
    answers: list[bytes] = []

    async def reflect(channel: grpc.aio.Channel) -> None:
        call = channel.stream_stream(REFLECTION_INFO)(
            iter([valid, host_not_utf8]), timeout=DEADLINE_S
        )
        async for answer in call:
            answers.append(answer)

    error = await _failure(pki_dir, server, "intake", reflect)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reflection_pb2.ServerReflectionRequest.DESCRIPTOR.full_name in error.details()
    assert [field for field, _ in field_violations(error)] == ["host"]
    listed = reflection_pb2.ServerReflectionResponse.FromString(answers[0])
    assert SERVICE in {s.name for s in listed.list_services_response.service}


# -- naming the field ---------------------------------------------------------------------------


def _bad_request(description: bytes) -> bytes:
    valid = error_details_pb2.BadRequest.FieldViolation(field="a", description="ok")
    entry = b"\x0a\x01a" + b"\x12" + bytes([len(description)]) + description
    # BadRequest.field_violations is field 1: a valid violation, then one not UTF-8 inside
    return (
        error_details_pb2.BadRequest(field_violations=[valid]).SerializeToString()
        + b"\x0a"
        + bytes([len(entry)])
        + entry
    )


def test_the_field_is_followed_into_nested_messages() -> None:
    raw = _bad_request(b"\xff\xfe")
    descriptor = error_details_pb2.BadRequest.DESCRIPTOR
    assert undecodable_field(descriptor, raw) == "field_violations.description"
    assert undecodable_field(descriptor, _bad_request(b"fine")) is None  # nothing wrong


def test_a_map_is_named_not_its_entry() -> None:
    entry = b"\x0a\x01k" + b"\x12\x04" + b"\x1a\x02\xff\xfe"  # key "k", Value.string_value bad
    raw = b"\x0a" + bytes([len(entry)]) + entry  # Struct.fields (a map) is field 1
    assert undecodable_field(struct_pb2.Struct.DESCRIPTOR, raw) == "fields"


def test_a_hostile_request_is_walked_within_bounds() -> None:
    # a million one-byte-valued fields before the bad one: no field named, and quickly
    raw = b"\x10\x01" * 1_000_000 + NOT_UTF8
    started = time.perf_counter()
    assert undecodable_field(health_pb2.HealthCheckRequest.DESCRIPTOR, raw) is None
    assert time.perf_counter() - started < 1.0
