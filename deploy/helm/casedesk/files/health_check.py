"""Check that every Casedesk service reports SERVING on the standard gRPC health service.

Run by the chart's `helm test` pod as `python health_check.py [--timeout S] NAME=HOST:PORT ...`
with the Python of a service image. The gRPC ports speak mutual TLS only, so the targets are each
service's plaintext health-only listener (the chart's `healthPort`, CASEDESK_GRPC_HEALTH_PORT),
the one the kubelet's probes use: it serves the health service and nothing else, with the same
statuses as the TLS port (NOT_SERVING during a drain included). Each target is polled until it
is SERVING or the overall timeout passes, so a test started right after an upgrade waits for
rollouts instead of failing.
Exit status 0 when all targets are SERVING, 1 otherwise (with the last status of each).
"""

from __future__ import annotations

import argparse
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

RPC_TIMEOUT_S = 2.0
RETRY_INTERVAL_S = 1.0


def probe(address: str) -> str:
    """The overall health status of the server at `address`, or the gRPC error code name."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def parse_target(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or ":" not in address:
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {text!r}")
    return name, address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="overall seconds to wait")
    parser.add_argument("targets", nargs="+", type=parse_target, metavar="NAME=HOST:PORT")
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.timeout
    status = {name: "UNKNOWN" for name, _ in args.targets}
    pending = dict(args.targets)
    while pending:
        for name, address in list(pending.items()):
            status[name] = probe(address)
            if status[name] == "SERVING":
                del pending[name]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(RETRY_INTERVAL_S)

    for name, address in args.targets:
        print(f"{name:<12} {address:<40} {status[name]}")
    if pending:
        print(f"not serving: {', '.join(sorted(pending))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
