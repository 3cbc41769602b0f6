"""The grpc.aio server every Casedesk process runs.

Standard health service and reflection are always on, so grpcurl, Kubernetes' native gRPC probes
and the integration tests all talk to any process the same way. On SIGTERM the health status turns
NOT_SERVING first (load balancers stop routing), in-flight calls get `shutdown_grace_s` to finish,
then the server stops.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from casedesk_runtime.grpc_tracing import TracingServerInterceptor
from casedesk_runtime.logs import get_logger
from casedesk_runtime.settings import ServiceSettings

# (add_XServicer_to_server, servicer instance, full service name)
ServiceBinding = tuple[Callable[[Any, grpc.aio.Server], None], Any, str]

log = get_logger(__name__)


class _MethodAwarePool:
    """The default descriptor pool, also finding the file that declares a method.

    `grpcurl describe pkg.Service.Method` asks reflection for the file containing a method's full
    name, which the upb-based pool does not resolve (grpc/grpc#34743); unknown names still raise
    KeyError, which reflection answers with NOT_FOUND.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def FindFileContainingSymbol(self, symbol: str) -> Any:
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            return self._pool.FindMethodByName(symbol).containing_service.file

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class GrpcServer:
    def __init__(self, settings: ServiceSettings, services: Sequence[ServiceBinding] = ()) -> None:
        self._settings = settings
        self._services = list(services)
        self._health = health.aio.HealthServicer()
        self._server = grpc.aio.server(interceptors=[TracingServerInterceptor()])
        self.port: int = 0

    async def start(self) -> int:
        server = self._server
        names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        for add_to_server, servicer, name in self._services:
            add_to_server(servicer, server)
            names.append(name)
        reflection.enable_server_reflection(
            [*names, reflection.SERVICE_NAME],
            server,
            pool=_MethodAwarePool(descriptor_pool.Default()),
        )
        address = f"{self._settings.grpc_host}:{self._settings.grpc_port}"
        self.port = server.add_insecure_port(address)
        await server.start()
        for _, _, name in self._services:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC server listening", extra={"address": address, "port": self.port})
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        await self._health.enter_graceful_shutdown()
        grace = self._settings.shutdown_grace_s if grace is None else grace
        await self._server.stop(grace)

    async def serve_until_signal(
        self, on_shutdown: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Serve until SIGTERM or SIGINT, then drain and stop; `on_shutdown` runs after draining."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if not self.port:
            await self.start()
        await stop.wait()
        log.info("shutdown requested: draining")
        await self.stop()
        if on_shutdown is not None:
            await on_shutdown()
        log.info("stopped")
