"""gRPC calls measured on both sides: counted by code, unary calls timed, edge refusals included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk_runtime.grpc_client import insecure_channel
from casedesk_runtime.grpc_limits import refusal
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.testing.metrics import Scrape, scrape

SERVICE = "casedesk.test.v1.Measured"
SERVER = "casedesk_grpc_server_handled_total"
CLIENT = "casedesk_grpc_client_handled_total"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def _refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no")
    return b""


async def _crash(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("bug")


async def _slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(0.03)
    return request


async def _count(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for n in range(3):
        yield bytes([n])


class _Edge(grpc.aio.ServerInterceptor):
    """Refuses `Guarded` before its request is read, as intake's FrontendEdge does."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if details.method.endswith("/Guarded"):  # type: ignore[attr-defined]
            return refusal(handler, grpc.StatusCode.UNAUTHENTICATED, "no frontend token")
        metadata = dict(details.invocation_metadata or ())  # type: ignore[attr-defined]
        if details.method.endswith("/Echo") and "x-refuse" in metadata:  # type: ignore[attr-defined]
            return refusal(handler, grpc.StatusCode.UNAUTHENTICATED, "refused for this call")
        return handler


def _binding():
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Refuse": grpc.unary_unary_rpc_method_handler(_refuse),
        "Crash": grpc.unary_unary_rpc_method_handler(_crash),
        "Slow": grpc.unary_unary_rpc_method_handler(_slow),
        "Guarded": grpc.unary_unary_rpc_method_handler(_echo),
        "Count": grpc.unary_stream_rpc_method_handler(_count),
    }
    generic = grpc.method_handlers_generic_handler(SERVICE, handlers)
    return (lambda servicer, server: server.add_generic_rpc_handlers((generic,)), None, SERVICE)


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    settings = ServiceSettings(grpc_port=0, grpc_insecure_dev=True)
    server = GrpcServer(settings, [_binding()], interceptors=[_Edge()])
    await server.start()
    async with insecure_channel(f"127.0.0.1:{server.port}") as client:
        yield client
    await server.stop(0)


def _method(name: str, **labels: str) -> dict[str, str]:
    return {"grpc_service": SERVICE, "grpc_method": name, **labels}


def _delta(before: Scrape, after: Scrape, sample: str, **labels: str) -> float:
    return after.value(sample, **labels) - before.value(sample, **labels)


async def _call(channel: grpc.aio.Channel, method: str) -> grpc.StatusCode:
    try:
        await channel.unary_unary(f"/{SERVICE}/{method}")(b"x")
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def _server_counted(before: Scrape, labels: dict[str, str]) -> Scrape:
    """The scrape once the server has counted the call: an aborted call's status reaches the
    client before the server's interceptor has finished with it (a loaded machine shows it)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        after = scrape()
        done = _delta(before, after, SERVER, **labels) >= 1
        if done or asyncio.get_running_loop().time() > deadline:
            return after
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("Echo", "OK"),
        ("Refuse", "INVALID_ARGUMENT"),
        ("Crash", "UNKNOWN"),
        ("Guarded", "UNAUTHENTICATED"),  # refused by an edge interceptor, request unread
    ],
)
async def test_each_call_is_counted_by_code_on_both_sides(
    channel: grpc.aio.Channel, method: str, code: str
) -> None:
    before = scrape()
    assert (await _call(channel, method)).name == code
    labels = _method(method, grpc_type="unary")
    after = await _server_counted(before, labels)
    assert _delta(before, after, SERVER, **labels, grpc_code=code) == 1
    assert _delta(before, after, CLIENT, **labels, grpc_code=code) == 1
    assert _delta(before, after, SERVER, **labels) == 1  # no other code for that call
    for side in ("server", "client"):
        histogram = f"casedesk_grpc_{side}_handling_seconds_count"
        assert _delta(before, after, histogram, **_method(method)) == 1


async def test_an_edge_interceptor_still_decides_each_call_of_a_method_measured_before(
    channel: grpc.aio.Channel,
) -> None:
    """The measured handler is kept per method, but the interceptors after metrics run for
    every call: one refused by its metadata between two admitted ones is refused and counted."""
    echo = channel.unary_unary(f"/{SERVICE}/Echo")
    labels = _method("Echo", grpc_type="unary")
    before = scrape()
    assert await echo(b"x") == b"x"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await echo(b"x", metadata=(("x-refuse", "1"),))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await echo(b"x") == b"x"
    deadline = asyncio.get_running_loop().time() + 10
    while _delta(before, after := scrape(), SERVER, **labels) < 3:
        assert asyncio.get_running_loop().time() < deadline, "the server did not count 3 calls"
        await asyncio.sleep(0.01)
    assert _delta(before, after, SERVER, **labels, grpc_code="OK") == 2
    assert _delta(before, after, SERVER, **labels, grpc_code="UNAUTHENTICATED") == 1


async def test_unary_calls_are_timed(channel: grpc.aio.Channel) -> None:
    before = scrape()
    await _call(channel, "Slow")
    after = scrape()
    for side in ("server", "client"):
        histogram = f"casedesk_grpc_{side}_handling_seconds"
        took = _delta(before, after, f"{histogram}_sum", **_method("Slow"))
        assert 0.03 <= took < 5
        assert _delta(before, after, f"{histogram}_bucket", **_method("Slow"), le="0.025") == 0
        assert _delta(before, after, f"{histogram}_bucket", **_method("Slow"), le="5.0") == 1


async def test_streams_are_counted_when_they_end_but_not_timed(channel: grpc.aio.Channel) -> None:
    before = scrape()
    replies = [reply async for reply in channel.unary_stream(f"/{SERVICE}/Count")(b"x")]
    assert len(replies) == 3
    await asyncio.sleep(0.05)  # the client side counts in a task once the call has ended
    after = scrape()
    labels = _method("Count", grpc_type="server_stream", grpc_code="OK")
    assert _delta(before, after, SERVER, **labels) == 1
    assert _delta(before, after, CLIENT, **labels) == 1
    assert after.value("casedesk_grpc_server_handling_seconds_count", **_method("Count")) == 0


async def test_health_checks_are_not_measured(channel: grpc.aio.Channel) -> None:
    before = scrape()
    health = health_pb2_grpc.HealthStub(channel)
    await health.Check(health_pb2.HealthCheckRequest(service=""))
    after = scrape()
    assert _delta(before, after, SERVER) == 0
    assert _delta(before, after, CLIENT) == 0
    assert all(
        labels["grpc_service"] != "grpc.health.v1.Health"
        for name in (SERVER, CLIENT)
        for labels in after.label_sets(name)
    )
