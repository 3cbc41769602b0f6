"""How a test session gets Kafka and PostgreSQL, and the cleanup of whatever it started.

In order of preference: infrastructure named by CASEDESK_TEST_KAFKA_BOOTSTRAP /
CASEDESK_TEST_POSTGRES_DSN; containers on the Docker engine (started by
tools/infra/docker-engine.sh if needed, images built by build-infra-images.sh if they are our
local tags); local processes when the engine or the images cannot be had.
CASEDESK_TEST_INFRA=docker forbids that fallback, CASEDESK_TEST_INFRA=local goes straight to it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from . import containers, local_processes
from .endpoints import PostgresServer
from .errors import InfrastructureError
from .readiness import wait_for_kafka, wait_for_postgres
from .services import free_ports
from .settings import InfraSettings, Mode

INFRA_DIR = local_processes.INFRA_DIR
LOCAL_IMAGE_PREFIX = "casedesk/"


class Started(Protocol):
    """A container or local process this session started and must stop."""

    def stop(self) -> None: ...


def _run_tool(script: str, action: list[str], timeout: float) -> None:
    path = INFRA_DIR / script
    try:
        done = subprocess.run(
            [str(path), *action], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise InfrastructureError(f"{script} did not finish within {timeout:.0f}s") from error
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise InfrastructureError(f"{script} {' '.join(action)} failed:\n{output}")


class Restartable(Started, Protocol):
    def halt(self) -> None: ...

    def resume(self) -> None: ...


@dataclass
class RestartableKafka:
    """A broker for outage tests: `stop()` takes it away with its data kept, `start()` brings it
    back on the same port and returns once it serves again."""

    bootstrap: str
    server: Restartable
    ready_timeout: float

    def stop(self) -> None:
        self.server.halt()

    def start(self) -> float:
        self.server.resume()
        return wait_for_kafka(self.bootstrap, self.ready_timeout)


@dataclass
class SessionInfrastructure:
    settings: InfraSettings
    backend: str = ""  # "existing", "docker" or "local", for the session summary
    timings: dict[str, float] = field(default_factory=dict)
    _docker_problem: str | None = None
    _docker_checked: bool = False
    _scratch: Path | None = None
    _cleanups: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def kafka_bootstrap(self) -> str:
        if self.settings.existing_kafka:
            self.backend = self.backend or "existing"
            try:
                self.timings["kafka"] = wait_for_kafka(self.settings.existing_kafka, 30)
            except InfrastructureError as error:
                raise InfrastructureError(f"CASEDESK_TEST_KAFKA_BOOTSTRAP: {error}") from error
            return self.settings.existing_kafka
        bootstrap, _ = self._start_kafka("kafka")
        return bootstrap

    def restartable_kafka(self) -> RestartableKafka:
        """A broker of its own (never the session's shared one) that a test may stop and start."""
        bootstrap, server = self._start_kafka("restartable kafka")
        return RestartableKafka(bootstrap, server, self.settings.ready_timeout)

    def _start_kafka(self, name: str) -> tuple[str, Restartable]:
        port, controller_port = free_ports(2)
        timeout = self.settings.ready_timeout
        started: Restartable
        use_docker = self._use_docker()  # engine and image preparation is timed on its own
        clock = time.monotonic()
        if use_docker:
            started = containers.start_kafka(
                self.settings.kafka_image, port, controller_port, timeout
            )
        else:
            # Its own directory: two local brokers must not share data, log or pid files.
            started = local_processes.start_kafka(
                self._scratch_dir() / f"kafka-{port}", port, controller_port, timeout
            )
        self.timings[name] = time.monotonic() - clock
        self._cleanups.append((name, started.stop))
        return f"127.0.0.1:{port}", started

    def postgres(self) -> PostgresServer:
        if self.settings.existing_postgres:
            self.backend = self.backend or "existing"
            try:
                server = PostgresServer.from_dsn(self.settings.existing_postgres)
                self.timings["postgres"] = wait_for_postgres(server, 30)
            except (ValueError, InfrastructureError) as error:
                raise InfrastructureError(f"CASEDESK_TEST_POSTGRES_DSN: {error}") from error
            return server
        (port,) = free_ports(1)
        timeout = self.settings.ready_timeout
        started: Started
        use_docker = self._use_docker()
        clock = time.monotonic()
        if use_docker:
            started, server = containers.start_postgres(self.settings.postgres_image, port, timeout)
        else:
            started, server = local_processes.start_postgres(self._scratch_dir(), port, timeout)
        self.timings["postgres"] = time.monotonic() - clock
        self._cleanups.append(("PostgreSQL", started.stop))
        return server

    def close(self) -> list[str]:
        """Stop everything started, newest first; return the problems instead of raising them."""
        problems = []
        while self._cleanups:
            what, stop = self._cleanups.pop()
            try:
                stop()
            except Exception as error:
                problems.append(f"stopping {what}: {error}")
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        return problems

    def _use_docker(self) -> bool:
        if self.settings.mode is Mode.LOCAL:
            self.backend = "local"
            return False
        if not self._docker_checked:
            self._docker_checked = True
            self._docker_problem = self._prepare_docker()
        if self._docker_problem is None:
            self.backend = "docker"
            return True
        if self.settings.mode is Mode.DOCKER:
            raise InfrastructureError(self._docker_problem)
        if self.backend != "local":
            warnings.warn(f"{self._docker_problem}; using local processes instead", stacklevel=2)
        self.backend = "local"
        return False

    def _prepare_docker(self) -> str | None:
        started = time.monotonic()
        try:
            _run_tool("docker-engine.sh", ["ensure"], timeout=120)
            self.timings["docker engine"] = time.monotonic() - started
            images = (self.settings.kafka_image, self.settings.postgres_image)
            if any(image.startswith(LOCAL_IMAGE_PREFIX) for image in images):
                started = time.monotonic()
                _run_tool("images/build-infra-images.sh", [], timeout=900)
                self.timings["images"] = time.monotonic() - started
        except InfrastructureError as error:
            return f"Docker is not usable: {error}"
        return None

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="casedesk-it-"))
            # Root hands the local PostgreSQL to an unprivileged account that must reach this path.
            self._scratch.chmod(0o755)
        return self._scratch
