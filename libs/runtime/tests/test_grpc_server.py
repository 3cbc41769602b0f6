"""The server bootstrap in-process: health, reflection, rich errors, graceful stop."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from casedesk_runtime.grpc_errors import bad_request_status, field_violations
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.settings import ServiceSettings


def _echo_binding():
    async def reject(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort_with_status(bad_request_status([("citizen.snils", "checksum")]))
        return b""

    handler = grpc.method_handlers_generic_handler(
        "casedesk.test.v1.Echo", {"Reject": grpc.unary_unary_rpc_method_handler(reject)}
    )
    return (
        lambda servicer, server: server.add_generic_rpc_handlers((handler,)),
        None,
        "casedesk.test.v1.Echo",
    )


@pytest.fixture
async def server():
    server = GrpcServer(ServiceSettings(grpc_port=0, grpc_insecure_dev=True), [_echo_binding()])
    await server.start()
    yield server
    await server.stop(0)


async def test_health_serving_then_not_serving_on_stop(server: GrpcServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reply = await health.Check(health_pb2.HealthCheckRequest(service="casedesk.test.v1.Echo"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await server.stop(0)
        with pytest.raises(grpc.aio.AioRpcError):
            await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)


async def test_reflection_lists_services(server: GrpcServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names = {s.name for s in reply.list_services_response.service}
            break
    assert {"grpc.health.v1.Health", "casedesk.test.v1.Echo"} <= names


async def test_invalid_argument_carries_field_violations(server: GrpcServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary("/casedesk.test.v1.Echo/Reject")
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(b"")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error.value) == [("citizen.snils", "checksum")]
