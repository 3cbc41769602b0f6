"""The smallest process `start_service` can supervise: gRPC health on CASEDESK_GRPC_PORT.

Used by test_infrastructure.py to check the supervisor itself without depending on a real
service. CASEDESK_FAIL_AT_START makes it exit with that message instead, as a broken service would.
"""

from __future__ import annotations

import asyncio
import os
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def serve(port: int) -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    print(f"serving health on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    problem = os.environ.get("CASEDESK_FAIL_AT_START")
    if problem:
        sys.exit(f"refusing to start: {problem}")
    asyncio.run(serve(int(os.environ["CASEDESK_GRPC_PORT"])))


if __name__ == "__main__":
    main()
