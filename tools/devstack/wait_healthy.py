"""Wait until a gRPC server's standard health check answers SERVING: `wait_healthy.py ADDR SECS`."""

import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> int:
    address, seconds = sys.argv[1], float(sys.argv[2])
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return 0
            except grpc.RpcError:
                pass
            time.sleep(0.3)
    return 1


if __name__ == "__main__":
    sys.exit(main())
