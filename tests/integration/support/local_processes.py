"""Kafka and PostgreSQL as plain local processes, the fallback when no Docker engine can run.

Drives tools/infra/kafka-local.sh and postgres-local.sh with a private run directory and free
ports, so a developer's own brokers and databases on the default ports are never touched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .endpoints import PostgresServer
from .errors import InfrastructureError
from .readiness import wait_for_kafka, wait_for_postgres

INFRA_DIR = Path(__file__).resolve().parents[3] / "tools" / "infra"


@dataclass
class LocalProcess:
    script: Path
    env: dict[str, str]

    def run(self, action: str, timeout: float) -> None:
        try:
            done = subprocess.run(
                [str(self.script), action],
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise InfrastructureError(
                f"{self.script.name} {action} hung for {timeout:.0f}s"
            ) from error
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise InfrastructureError(f"{self.script.name} {action} failed:\n{output}")

    def stop(self) -> None:
        self.run("stop", timeout=90)

    def halt(self) -> None:
        """Stop the server and keep its data for `resume` (the scripts never reformat it)."""
        self.run("stop", timeout=90)

    def resume(self) -> None:
        self.run("start", timeout=120)


def start_kafka(run_dir: Path, port: int, controller_port: int, timeout: float) -> LocalProcess:
    process = LocalProcess(
        INFRA_DIR / "kafka-local.sh",
        {
            "CASEDESK_RUN_DIR": str(run_dir),
            "CASEDESK_KAFKA_PORT": str(port),
            "CASEDESK_KAFKA_CONTROLLER_PORT": str(controller_port),
        },
    )
    process.run("start", timeout=timeout + 120)  # the first start also downloads the jars
    try:
        wait_for_kafka(f"127.0.0.1:{port}", timeout)
    except InfrastructureError:
        process.stop()
        raise
    return process


def start_postgres(run_dir: Path, port: int, timeout: float) -> tuple[LocalProcess, PostgresServer]:
    process = LocalProcess(
        INFRA_DIR / "postgres-local.sh",
        {"CASEDESK_RUN_DIR": str(run_dir), "CASEDESK_POSTGRES_PORT": str(port)},
    )
    process.run("start", timeout=timeout)
    server = PostgresServer(host="127.0.0.1", port=port)
    try:
        wait_for_postgres(server, timeout)
    except InfrastructureError:
        process.stop()
        raise
    return process, server


def start_secure_kafka(
    run_dir: Path,
    port: int,
    controller_port: int,
    properties: dict[str, str],
    scram_credentials: list[str],
    ready: Callable[[Callable[[], None]], float],
    timeout: float,
) -> LocalProcess:
    """kafka-local.sh with `properties` as its server.properties and SCRAM users added at format
    time; `ready(check_alive)` waits until it serves an authenticated client."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "secure-server.properties"
    # The values hold the broker's private key: readable by this account only.
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{name}={value}\n" for name, value in properties.items())
    process = LocalProcess(
        INFRA_DIR / "kafka-local.sh",
        {
            "CASEDESK_RUN_DIR": str(run_dir),
            "CASEDESK_KAFKA_PORT": str(port),
            "CASEDESK_KAFKA_CONTROLLER_PORT": str(controller_port),
            "CASEDESK_KAFKA_CONFIG_FILE": str(config),
            "CASEDESK_KAFKA_SCRAM": ";".join(scram_credentials),
        },
    )
    process.run("start", timeout=timeout + 120)  # the first start also downloads the jars
    try:
        ready(lambda: None)
    except BaseException:
        process.stop()
        raise
    return process
