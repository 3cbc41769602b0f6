"""Spans of gRPC calls: one trace from client to server, status codes, untraced probes."""

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from casedesk_runtime.grpc_tracing import TracingServerInterceptor, client_interceptors

SERVICE = "casedesk.test.v1.Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def _refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no")
    return b""


async def _crash(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("bug")


async def _count(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for n in range(3):
        yield bytes([n])


async def _watch(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"first"
    await asyncio.Event().wait()  # until the client goes away
    yield b"never"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def channel(exporter: InMemorySpanExporter) -> AsyncIterator[grpc.aio.Channel]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = grpc.aio.server(interceptors=[TracingServerInterceptor(provider)])
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Refuse": grpc.unary_unary_rpc_method_handler(_refuse),
        "Crash": grpc.unary_unary_rpc_method_handler(_crash),
        "Count": grpc.unary_stream_rpc_method_handler(_count),
        "Watch": grpc.unary_stream_rpc_method_handler(_watch),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", interceptors=client_interceptors(provider)
    ) as client:
        yield client
    await server.stop(0)


def _by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in spans if s.kind is kind]


async def test_client_and_server_spans_share_one_trace(
    channel: grpc.aio.Channel, exporter: InMemorySpanExporter
) -> None:
    assert await channel.unary_unary(f"/{SERVICE}/Echo")(b"hi") == b"hi"
    (client,) = _by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    (server,) = _by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert server.context.trace_id == client.context.trace_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    assert server.name == f"{SERVICE}/Echo"
    assert dict(server.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": SERVICE,
        "rpc.method": "Echo",
        "rpc.grpc.status_code": 0,
    }


async def test_a_refusal_is_recorded_but_is_not_a_server_fault(
    channel: grpc.aio.Channel, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await channel.unary_unary(f"/{SERVICE}/Refuse")(b"")
    (server,) = _by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    (client,) = _by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    assert server.attributes is not None and server.attributes["rpc.grpc.status_code"] == 3
    assert server.status.status_code is StatusCode.UNSET
    assert client.attributes is not None and client.attributes["rpc.grpc.status_code"] == 3
    assert client.status.status_code is StatusCode.ERROR


async def test_an_unhandled_exception_is_a_server_fault(
    channel: grpc.aio.Channel, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await channel.unary_unary(f"/{SERVICE}/Crash")(b"")
    assert error.value.code() is grpc.StatusCode.UNKNOWN
    (server,) = _by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert server.attributes is not None and server.attributes["rpc.grpc.status_code"] == 2
    assert server.status.status_code is StatusCode.ERROR


async def test_server_streaming_is_traced_until_the_stream_ends(
    channel: grpc.aio.Channel, exporter: InMemorySpanExporter
) -> None:
    replies = [r async for r in channel.unary_stream(f"/{SERVICE}/Count")(b"")]
    assert replies == [b"\x00", b"\x01", b"\x02"]
    (server,) = _by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    (client,) = _by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    assert server.name == f"{SERVICE}/Count"
    assert server.context.trace_id == client.context.trace_id


async def test_a_stream_the_client_cancels_is_not_a_server_fault(
    channel: grpc.aio.Channel, exporter: InMemorySpanExporter
) -> None:
    call = channel.unary_stream(f"/{SERVICE}/Watch")(b"")
    assert await call.read() == b"first"
    call.cancel()
    for _ in range(200):
        servers = _by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
        if servers:
            break
        await asyncio.sleep(0.01)
    (server,) = servers
    assert server.attributes is not None and server.attributes["rpc.grpc.status_code"] == 1
    assert server.status.status_code is StatusCode.UNSET


async def test_health_checks_are_not_traced(
    channel: grpc.aio.Channel, exporter: InMemorySpanExporter
) -> None:
    await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert _by_kind(exporter.get_finished_spans(), SpanKind.SERVER) == []
