"""The service images of `make images`, run as the Helm chart runs them, on the Docker engine.

`build_service_images()` runs the same scripts as `make images` (both skip what is up to date).
`run_service_image()` starts one image with the chart's security context translated to Docker:
uid/gid 10001, read-only root file system, every capability dropped, no privilege escalation,
writable only at /tmp and the working directory /var/lib/casedesk (the chart's emptyDir volumes),
on the host network because the engine has no bridge.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container
from grpc_health.v1 import health_pb2

from .containers import SESSION_LABEL
from .services import health_status

REPO_ROOT = Path(__file__).resolve().parents[3]
# The order of tools/build-service-images.sh, which is also the order of the port plan.
SERVICE_NAMES = ("intake", "case", "sla", "escalation", "notify")
APP_UID = "10001"
LOG_TAIL_LINES = 40
SERVING = health_pb2.HealthCheckResponse.SERVING

# What `make images` runs after `setup`, in its order.
_BUILD_SCRIPTS = ("tools/infra/images/build-infra-images.sh", "tools/build-service-images.sh")


class ImageBuildError(RuntimeError):
    """An image script failed; the message ends with the last lines of its output."""


def project_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as manifest:
        return str(tomllib.load(manifest)["project"]["version"])


def service_image(name: str) -> str:
    """The tag build-service-images.sh gives a service (same prefix variable, same version)."""
    prefix = os.environ.get("CASEDESK_IMAGE_PREFIX", "casedesk")
    return f"{prefix}/{name}:{project_version()}"


def build_service_images(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for script in _BUILD_SCRIPTS:
        remaining = max(deadline - time.monotonic(), 1.0)
        try:
            done = subprocess.run(
                ["bash", script],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=remaining,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ImageBuildError(f"{script} did not finish within {timeout:.0f}s") from error
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise ImageBuildError(f"{script} failed (exit {done.returncode}):\n{tail}")


@dataclass
class ServiceContainer:
    """One running service image and the loopback port of its gRPC (and health) server."""

    service: str
    port: int
    container: Container

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def status(self) -> str:
        try:
            self.container.reload()
        except NotFound:
            return "removed"
        if self.container.status == "exited":
            return f"exited with code {self.container.attrs['State']['ExitCode']}"
        return str(self.container.status)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return self.container.logs(tail=lines).decode(errors="replace")
        except DockerException as error:
            return f"(logs unavailable: {error})"

    def remove(self) -> None:
        with contextlib.suppress(NotFound):
            self.container.remove(force=True, v=True)


def run_service_image(
    client: docker.DockerClient, service: str, port: int, env: dict[str, str]
) -> ServiceContainer:
    """Start `service`'s image with the environment `env`, serving gRPC on 127.0.0.1:`port`.

    The gRPC bind address is the only variable set here, and it wins over `env`'s: containers on
    the host's network must listen on loopback, on a port free on this machine.
    """
    # A tmpfs is root-owned; Kubernetes makes the chart's emptyDirs writable through fsGroup.
    owned_by_app = f"uid={APP_UID},gid={APP_UID},mode=0750"
    container = client.containers.run(
        service_image(service),
        name=f"casedesk-it-{service}-{port}",
        detach=True,
        network_mode="host",
        user=f"{APP_UID}:{APP_UID}",
        read_only=True,
        tmpfs={"/tmp": "mode=1777", "/var/lib/casedesk": owned_by_app},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        environment={**env, "CASEDESK_GRPC_HOST": "127.0.0.1", "CASEDESK_GRPC_PORT": str(port)},
        labels={SESSION_LABEL: str(os.getpid())},
    )
    return ServiceContainer(service, port, container)


def wait_until_serving(containers: Iterable[ServiceContainer], timeout: float) -> dict[str, str]:
    """Poll every container's health check until all are SERVING or `timeout` passes.

    Returns the problems by service (empty when all serve); a container that stopped is a problem
    at once, not after the timeout.
    """
    waiting = {item.service: item for item in containers}
    problems: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while waiting:
        for service, item in list(waiting.items()):
            if health_status(item.address, timeout=1.0) == SERVING:
                del waiting[service]
            elif (state := item.status()) != "running":
                problems[service] = f"container {state} before SERVING"
                del waiting[service]
        if waiting and time.monotonic() >= deadline:
            for service, item in waiting.items():
                problems[service] = f"not SERVING on {item.address} after {timeout:.0f}s"
            break
        time.sleep(0.25)
    return problems
