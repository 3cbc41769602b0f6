"""Casedesk services as real child processes, for tests that kill, restart and observe them.

`start_service("casedesk_case", env)` runs `python -m casedesk_case` with `env` over this
process's environment and returns once the standard gRPC health check answers SERVING.

A service given TLS files (CASEDESK_TLS_CERT_FILE, _KEY_FILE, _CA_FILE) serves mutual TLS and
is probed with its own certificate; without them it is started with the explicit development
setting CASEDESK_GRPC_INSECURE_DEV=true (plaintext, no authorisation), as services refuse
plaintext otherwise.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

START_TIMEOUT = 30.0
SERVING = health_pb2.HealthCheckResponse.SERVING
LOG_TAIL_LINES = 40


class ServiceStartError(RuntimeError):
    """The service exited or never reported SERVING; the message ends with its last log lines."""


# Below Linux's ephemeral range (32768-60999): a port the kernel handed out for a listener can be
# taken by some client's outgoing connection before the service binds it; these cannot.
_PORT_RANGE = (20000, 32000)


# Every port handed out by this test process: a port is free when chosen but bound only later,
# by the process it is meant for, so another choice meanwhile could give it again (a system's
# metrics ports are chosen together at its start, each service's gRPC port when it starts: one
# run saw intake's metrics endpoint take its own gRPC port). None is handed out twice; the record
# starts afresh once most of the range has been used.
_HANDED_OUT: set[int] = set()


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports free right now and never handed out before by this process; all
    are held open until every one is chosen."""
    if len(_HANDED_OUT) > (_PORT_RANGE[1] - _PORT_RANGE[0]) // 2:
        _HANDED_OUT.clear()
    chosen: list[int] = []
    with contextlib.ExitStack() as stack:
        while len(chosen) < count:
            port = random.randrange(*_PORT_RANGE)
            if port in _HANDED_OUT:
                continue
            sock = stack.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen.append(port)
            _HANDED_OUT.add(port)
    return chosen


def free_port() -> int:
    return free_ports(1)[0]


TLS_VARIABLES = ("CASEDESK_TLS_CERT_FILE", "CASEDESK_TLS_KEY_FILE", "CASEDESK_TLS_CA_FILE")


def tls_credentials(env: dict[str, str]) -> grpc.ChannelCredentials | None:
    """Client credentials from a service's own TLS files (any verified identity may probe)."""
    if not all(env.get(name) for name in TLS_VARIABLES):
        return None
    cert, key, ca = (Path(env[name]).read_bytes() for name in TLS_VARIABLES)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def health_status(
    address: str, timeout: float = 1.0, credentials: grpc.ChannelCredentials | None = None
) -> int | None:
    """The overall health status at `address`, or None when nothing answers."""
    opened = (
        grpc.secure_channel(address, credentials)
        if credentials is not None
        else grpc.insecure_channel(address)
    )
    with opened as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return None
    return int(reply.status)


@dataclass
class ServiceProcess:
    module: str
    env: dict[str, str]
    port: int
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        if self.running:
            raise RuntimeError(f"{self.module} is already running (pid {self.pid})")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_serving(timeout)

    def kill(self) -> None:
        """SIGKILL: the crash a service must survive without losing or doubling work."""
        if self.running and self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (graceful shutdown), SIGKILL after `timeout`; returns the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self._process.returncode

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop if still running, then start again on the same port with the same environment."""
        self.terminate()
        self.start(timeout)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                code = self._process.returncode if self._process else None
                self._fail(f"exited with code {code} before serving")
            credentials = tls_credentials(self.env)
            if health_status(self.address, credentials=credentials) == SERVING:
                return
            if time.monotonic() >= deadline:
                self.kill()
                self._fail(f"did not report SERVING on {self.address} within {timeout:.0f}s")
            time.sleep(0.1)

    def _fail(self, problem: str) -> None:
        raise ServiceStartError(
            f"{self.module} {problem}; last lines of {self.log_path}:\n{self.log_tail()}"
        )


def start_service(
    module: str,
    env: dict[str, str] | None = None,
    port_env: str = "CASEDESK_GRPC_PORT",
    *,
    log_dir: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> ServiceProcess:
    """Start `python -m module` on the port in env[port_env] (a free one when absent)."""
    env = dict(env or {})
    if tls_credentials(env) is None:
        env.setdefault("CASEDESK_GRPC_INSECURE_DEV", "true")
    port = int(env.setdefault(port_env, str(free_port())))
    directory = log_dir or Path(tempfile.mkdtemp(prefix="casedesk-services-"))
    log_path = directory / f"{module.replace('.', '-')}-{port}.log"
    service = ServiceProcess(module=module, env=env, port=port, log_path=log_path)
    service.start(timeout)
    return service


class ServiceLauncher:
    """Starts service processes for one test and stops every one of them afterwards."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def __call__(
        self,
        module: str,
        env: dict[str, str] | None = None,
        port_env: str = "CASEDESK_GRPC_PORT",
        timeout: float = 30.0,
    ) -> ServiceProcess:
        service = start_service(module, env, port_env, log_dir=self._log_dir, timeout=timeout)
        self.started.append(service)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.started):
            service.terminate(timeout=10.0)
