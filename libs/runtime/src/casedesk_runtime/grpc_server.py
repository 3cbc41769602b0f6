"""The grpc.aio server every Casedesk process runs.

Standard health service and reflection are always on, so grpcurl, Kubernetes' native gRPC probes
and the integration tests all talk to any process the same way. On SIGTERM the health status turns
NOT_SERVING first (load balancers stop routing), in-flight calls get `shutdown_grace_s` to finish,
then the server stops.

Every connection is mutual TLS (`grpc_tls`, credentials that follow rotated certificate files)
and every call is authorised by the caller's service identity against the access table the
service passes in (`grpc_authz`), before its request is decoded (`grpc_decoding`: bytes that
are no request message get INVALID_ARGUMENT, an unauthorised caller its refusal first). Without
the TLS files the server refuses to be built, unless CASEDESK_GRPC_INSECURE_DEV=true: then it
listens in plaintext and authorises nothing.

Kubernetes' native gRPC probes speak plaintext only, so with TLS on, CASEDESK_GRPC_HEALTH_PORT
opens a second, plaintext listener that serves the health service and nothing else (the same
statuses, NOT_SERVING included during a drain).

Every process has a GrpcServer, so this is also where its Prometheus endpoint starts and stops
(metrics_endpoint; CASEDESK_METRICS_PORT), and where every call is measured (grpc_metrics).

Both listeners set SO_REUSEPORT (gRPC's default on Linux, made explicit here because it is relied
on): the workers of one service (casedesk_runtime.workers, CASEDESK_WORKERS) all listen on the
same ports, and the kernel hands each new connection to one of them.
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

from casedesk_runtime.grpc_authz import (
    AccessTable,
    AuthorizationServerInterceptor,
    validate_access_table,
)
from casedesk_runtime.grpc_decoding import RequestDecodingServerInterceptor
from casedesk_runtime.grpc_metrics import MetricsServerInterceptor
from casedesk_runtime.grpc_tls import ReloadingCertificates, server_credentials, tls_files
from casedesk_runtime.grpc_tracing import TracingServerInterceptor
from casedesk_runtime.logs import get_logger
from casedesk_runtime.metrics_endpoint import MetricsEndpoint, start_metrics_endpoint
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.workers import report_ready

# (add_XServicer_to_server, servicer instance, full service name)
ServiceBinding = tuple[Callable[[Any, grpc.aio.Server], None], Any, str]
# Several workers of a service listen on one port (see the module's docstring).
REUSE_PORT = ("grpc.so_reuseport", 1)

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


def _with_reuse_port(options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    if any(name == REUSE_PORT[0] for name, _ in options):
        return list(options)
    return [*options, REUSE_PORT]


class GrpcServer:
    """`access` is the service's access table (grpc_authz); None or empty: only health is open.

    `interceptors` run before tracing and authorisation, on each call's metadata, before its
    request is read: a public edge's own admission (`grpc_limits`; intake's frontend tokens).
    `options` are grpc.aio server options (`grpc.max_receive_message_length`, ...).

    Raises grpc_tls.TlsNotConfigured (a SettingsError naming the variables to set) when the
    settings have neither the TLS files nor grpc_insecure_dev.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        services: Sequence[ServiceBinding] = (),
        *,
        access: AccessTable | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._settings = settings
        self._services = list(services)
        self._access: AccessTable = access if access is not None else {}
        validate_access_table(self._access, [name for _, _, name in self._services])
        self._secure = tls_files(settings) is not None  # refuses plaintext without the dev flag
        self._health = health.aio.HealthServicer()
        # Metrics first: calls an edge interceptor refuses are counted too. Tracing before
        # authorisation: a refused call is still a traced call, with its PERMISSION_DENIED.
        # Request decoding last: its decoding runs inside every behaviour wrapped before it, so
        # after the access check (grpc_decoding).
        authorization = AuthorizationServerInterceptor(self._access, enforce=self._secure)
        self._server = grpc.aio.server(
            interceptors=[
                MetricsServerInterceptor(),
                *interceptors,
                TracingServerInterceptor(),
                authorization,
                RequestDecodingServerInterceptor(),
            ],
            options=_with_reuse_port(options),
        )
        self._health_server: grpc.aio.Server | None = None
        self.port: int = 0
        self.health_port: int = 0  # the plaintext health-only listener, 0 when there is none
        # The certificates being served (their `.material.serial`), None in plaintext.
        self.certificates: ReloadingCertificates | None = None
        # The process's Prometheus endpoint (metrics_endpoint), None when it has none.
        self.metrics: MetricsEndpoint | None = None

    async def start(self) -> int:
        server = self._server
        # First: a metrics port configured but taken stops the start before gRPC listens.
        self.metrics = start_metrics_endpoint(self._settings)
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
        credentials = server_credentials(self._settings)
        if credentials is None:
            self.port = server.add_insecure_port(address)
            log.warning(
                "gRPC in plaintext, every call allowed: CASEDESK_GRPC_INSECURE_DEV is on",
                extra={"address": address},
            )
        else:
            tls, self.certificates = credentials
            self.port = server.add_secure_port(address, tls)
        await server.start()
        if self._settings.grpc_health_port is not None:
            await self._start_health_listener()
        for _, _, name in self._services:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "gRPC server listening",
            extra={
                "address": address,
                "port": self.port,
                "tls": self._secure,
                "client_auth": self._settings.tls_client_auth if self._secure else None,
            },
        )
        report_ready()  # to the supervisor of this worker, if there is one
        return self.port

    async def _start_health_listener(self) -> None:
        health_server = grpc.aio.server(options=[REUSE_PORT])
        health_pb2_grpc.add_HealthServicer_to_server(self._health, health_server)
        address = f"{self._settings.grpc_host}:{self._settings.grpc_health_port}"
        self.health_port = health_server.add_insecure_port(address)
        await health_server.start()
        self._health_server = health_server
        log.info("gRPC health-only listener (plaintext)", extra={"port": self.health_port})

    async def stop(self, grace: float | None = None) -> None:
        await self._health.enter_graceful_shutdown()
        grace = self._settings.shutdown_grace_s if grace is None else grace
        await self._server.stop(grace)
        if self._health_server is not None:
            await self._health_server.stop(0)
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.close)
            self.metrics = None

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
