"""The `helm test` script against real gRPC servers serving the standard health service."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from helmchart import CHART

SCRIPT = CHART / "files" / "health_check.py"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthServer:
    def __init__(self) -> None:
        self.servicer = health.HealthServicer()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def set(self, status: int) -> None:
        self.servicer.set("", status)


@pytest.fixture
def servers() -> Iterator[list[HealthServer]]:
    started = [HealthServer(), HealthServer()]
    yield started
    for server in started:
        server.server.stop(grace=None)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unused_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def test_all_serving_passes(servers: list[HealthServer]) -> None:
    for server in servers:
        server.set(SERVING)
    done = run("case=" + servers[0].address, "sla=" + servers[1].address)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "case",
        servers[0].address,
        "SERVING",
        "sla",
        servers[1].address,
        "SERVING",
    ]


def test_a_service_not_serving_fails_and_is_named(servers: list[HealthServer]) -> None:
    servers[0].set(SERVING)
    servers[1].set(NOT_SERVING)
    done = run("--timeout", "1", "case=" + servers[0].address, "sla=" + servers[1].address)
    assert done.returncode == 1
    assert "not serving: sla" in done.stderr
    assert f"sla          {servers[1].address}" in done.stdout
    assert "NOT_SERVING" in done.stdout


def test_an_unreachable_service_fails(servers: list[HealthServer]) -> None:
    servers[0].set(SERVING)
    done = run("--timeout", "1", "case=" + servers[0].address, "notify=" + unused_address())
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stdout
    assert "not serving: notify" in done.stderr


def test_waits_for_a_service_still_starting(servers: list[HealthServer]) -> None:
    servers[0].set(NOT_SERVING)
    timer = threading.Timer(1.5, servers[0].set, args=(SERVING,))
    timer.start()
    try:
        done = run("--timeout", "20", "intake=" + servers[0].address)
    finally:
        timer.cancel()
    assert done.returncode == 0, done.stdout + done.stderr


def test_malformed_target_is_a_usage_error() -> None:
    done = run("case")
    assert done.returncode == 2
    assert "expected NAME=HOST:PORT" in done.stderr
