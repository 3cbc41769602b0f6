"""A minimal process built on the shared runtime, for the runtime's own integration tests.

It serves health, reflection and one raw-bytes method `casedesk.probe.v1.Probe/Publish` that
publishes the request body to Kafka (topic from CASEDESK_PROBE_TOPIC) through the runtime's broker,
so a test can follow one trace from a gRPC call into the Kafka record it caused.
"""

from __future__ import annotations

import asyncio
import os

import grpc

from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import make_broker
from casedesk_runtime.logs import configure_logging
from casedesk_runtime.settings import ServiceSettings, load_settings
from casedesk_runtime.telemetry import configure_telemetry

SERVICE = "casedesk.probe.v1.Probe"


def probe_binding(broker, topic: str):
    async def publish(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await broker.publish(request, topic, key=b"probe")
        return b"published"

    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Publish": grpc.unary_unary_rpc_method_handler(publish)}
    )
    return (lambda _servicer, server: server.add_generic_rpc_handlers((handler,)), None, SERVICE)


async def main() -> None:
    settings = load_settings(ServiceSettings, service_name="probe")
    configure_logging(settings.service_name, settings.log_level)
    configure_telemetry(settings.service_name, settings=settings)
    broker = make_broker(settings, client_id="probe")
    await broker.start()
    server = GrpcServer(settings, [probe_binding(broker, os.environ["CASEDESK_PROBE_TOPIC"])])
    await server.serve_until_signal(on_shutdown=broker.stop)


if __name__ == "__main__":
    asyncio.run(main())
