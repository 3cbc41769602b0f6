"""Wait until a gRPC server's health check answers SERVING: `wait_healthy.py ADDR SECS [PKI_DIR]`.

With PKI_DIR it connects over mutual TLS as `operator` (the servers refuse plaintext).
"""

import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def open_channel(address: str, pki: Path | None) -> grpc.Channel:
    if pki is None:
        return grpc.insecure_channel(address)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.crt").read_bytes(),
        private_key=(pki / "operator.key").read_bytes(),
        certificate_chain=(pki / "operator.crt").read_bytes(),
    )
    return grpc.secure_channel(address, credentials)


def main() -> int:
    address, seconds = sys.argv[1], float(sys.argv[2])
    pki = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    deadline = time.monotonic() + seconds
    with open_channel(address, pki) as channel:
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
