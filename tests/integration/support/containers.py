"""Kafka and PostgreSQL in Docker containers on the host network, started with testcontainers.

The engine runs without bridge networking, so containers share the host's network and listen on
a free loopback port. The environment both images understand is the official images' one, so
CASEDESK_KAFKA_IMAGE / CASEDESK_POSTGRES_IMAGE may name either our local builds or Apache's and
PostgreSQL's own images.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

# Ryuk, the testcontainers reaper, is an image from a registry we cannot reach; the session
# removes its containers itself. Set before testcontainers reads its configuration.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"

from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from casedesk_runtime import dev_kafka

from .endpoints import CASEDESK_DATABASE, PostgresServer
from .errors import InfrastructureError
from .readiness import wait_for_kafka, wait_for_postgres

testcontainers_config.ryuk_disabled = True

SESSION_LABEL = "org.casedesk.integration-tests"


@dataclass
class RunningContainer:
    container: DockerContainer

    def stop(self) -> None:
        self.container.stop(force=True, delete_volume=True)

    def halt(self) -> None:
        """Stop the server (SIGTERM, as an orchestrator would) and keep its data for `resume`."""
        self.container.get_wrapped_container().stop(timeout=30)

    def resume(self) -> None:
        self.container.get_wrapped_container().start()


def _cluster_id() -> str:
    # KRaft cluster ids are 16 random bytes in URL-safe base64 without padding. Like Kafka's own
    # Uuid.randomUuid, never one that starts with "-": a command line would read it as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_environment(port: int, controller_port: int) -> dict[str, str]:
    """A single combined broker and controller on loopback, replication factors of one."""
    return {
        "CLUSTER_ID": _cluster_id(),
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@127.0.0.1:{controller_port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_HEAP_OPTS": "-Xms512m -Xmx512m",
    }


def _start(
    image: str, name: str, env: dict[str, str], command: list[str] | None
) -> DockerContainer:
    container = DockerContainer(
        image,
        env=env,
        name=name,
        network_mode="host",
        labels={SESSION_LABEL: str(os.getpid())},
    )
    if command:
        container.with_command(command)
    try:
        container.start()
    except Exception as error:
        raise InfrastructureError(f"could not start a container from {image}: {error}") from error
    return container


def _liveness_check(container: DockerContainer, what: str) -> Callable[[], None]:
    def check_alive() -> None:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            stdout, stderr = container.get_logs()
            tail = "\n".join((stdout + stderr).decode(errors="replace").splitlines()[-30:])
            raise InfrastructureError(f"{what} container exited during start-up:\n{tail}")

    return check_alive


def _ready_or_removed(container: DockerContainer, wait: Callable[[], float]) -> RunningContainer:
    try:
        wait()
    except BaseException:
        container.stop(force=True, delete_volume=True)
        raise
    return RunningContainer(container)


def start_kafka(image: str, port: int, controller_port: int, timeout: float) -> RunningContainer:
    container = _start(
        image, f"casedesk-it-kafka-{port}", kafka_environment(port, controller_port), None
    )
    check = _liveness_check(container, "Kafka")
    bootstrap = f"127.0.0.1:{port}"
    return _ready_or_removed(container, lambda: wait_for_kafka(bootstrap, timeout, check))


def start_postgres(
    image: str, port: int, timeout: float
) -> tuple[RunningContainer, PostgresServer]:
    env = {
        "POSTGRES_USER": CASEDESK_DATABASE,
        "POSTGRES_PASSWORD": CASEDESK_DATABASE,
        "POSTGRES_DB": CASEDESK_DATABASE,
    }
    # Durability is irrelevant for throw-away test data; skipping fsync keeps the suite fast.
    settings = ["listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off"]
    command = ["-p", str(port), *(arg for setting in settings for arg in ("-c", setting))]
    container = _start(image, f"casedesk-it-postgres-{port}", env, command)
    server = PostgresServer(host="127.0.0.1", port=port)
    check = _liveness_check(container, "PostgreSQL")
    return _ready_or_removed(container, lambda: wait_for_postgres(server, timeout, check)), server


# -- a secured broker: SASL_SSL (SCRAM-SHA-512) for clients, mutual TLS for the controller --------


def environment_for(properties: dict[str, str]) -> dict[str, str]:
    """The KAFKA_* variables the image's entrypoint turns back into `properties`
    (`.` -> `_`, `_` -> `__`, `-` -> `___`)."""

    def variable(name: str) -> str:
        return "KAFKA_" + name.replace("_", "__").replace("-", "___").replace(".", "_").upper()

    return {variable(name): value for name, value in properties.items()}


def start_secure_kafka(
    image: str,
    port: int,
    controller_port: int,
    properties: dict[str, str],
    passwords: dict[str, str],
    ready: Callable[[Callable[[], None]], float],
) -> RunningContainer:
    """A secured broker from `image` (ours: SCRAM users need the entrypoint's SCRAM_CREDENTIALS);
    `ready(check_alive)` waits until it serves an authenticated client."""
    env = {
        "CLUSTER_ID": _cluster_id(),
        "SCRAM_CREDENTIALS": ";".join(dev_kafka.scram_credentials(passwords)),
        "KAFKA_HEAP_OPTS": "-Xms512m -Xmx512m",
        **environment_for(properties),
    }
    container = _start(image, f"casedesk-it-secure-kafka-{port}", env, None)
    check = _liveness_check(container, "secured Kafka")
    return _ready_or_removed(container, lambda: ready(check))
