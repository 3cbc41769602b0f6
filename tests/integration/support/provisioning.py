"""How a test session gets Kafka and PostgreSQL, and the cleanup of whatever it started.

In order of preference: infrastructure named by CASEDESK_TEST_KAFKA_BOOTSTRAP /
CASEDESK_TEST_POSTGRES_DSN; containers on the Docker engine (started by
tools/infra/docker-engine.sh if needed, images built by build-infra-images.sh if they are our
local tags); local processes when the engine or the images cannot be had.
CASEDESK_TEST_INFRA=docker forbids that fallback, CASEDESK_TEST_INFRA=local goes straight to it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from casedesk_runtime import dev_kafka, kafka_access

from . import containers, local_processes
from .endpoints import PostgresServer
from .errors import InfrastructureError
from .keycloak import Keycloak, image_from_env, start_keycloak
from .readiness import _run_blocking, wait_for_kafka, wait_for_postgres, wait_until
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

    access: PlainKafka | SecureKafka
    server: Restartable
    ready_timeout: float

    @property
    def bootstrap(self) -> str:
        return self.access.bootstrap

    def stop(self) -> None:
        self.server.halt()

    def start(self) -> float:
        self.server.resume()
        if isinstance(self.access, SecureKafka):
            return wait_for_secure_kafka(self.access, self.ready_timeout)
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
    _secure_kafka: SecureKafka | None = None

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
        """A PLAINTEXT broker of its own (never the session's shared one) that a test may stop
        and start."""
        bootstrap, server = self._start_kafka("restartable kafka")
        return RestartableKafka(PlainKafka(bootstrap), server, self.settings.ready_timeout)

    def restartable_secure_kafka(self) -> RestartableKafka:
        """A secured broker of its own (see `secure_kafka`) that a test may stop and start."""
        secured = self._start_secure_kafka("restartable secured kafka")
        server = secured.server
        assert server is not None
        return RestartableKafka(secured, server, self.settings.ready_timeout)  # type: ignore[arg-type]

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

    def secure_kafka(self) -> SecureKafka:
        """The session's secured broker (started on first use): SASL_SSL/SCRAM, ACLs and no
        PLAINTEXT listener, the topic catalogue created and the topic ownership rule granted to
        one principal per service (`casedesk_runtime.kafka_access`)."""
        if self._secure_kafka is None:
            self._secure_kafka = self._start_secure_kafka("secured kafka")
        return self._secure_kafka

    def _start_secure_kafka(self, name: str) -> SecureKafka:
        image = self.settings.kafka_image if self._use_docker() else None
        clock = time.monotonic()
        run_dir = self._scratch_dir() / name.replace(" ", "-")
        secured = start_secure_kafka(run_dir, image, self.settings.ready_timeout)
        self.timings[name] = time.monotonic() - clock
        assert secured.server is not None
        self._cleanups.append((name, secured.server.stop))
        return secured

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

    def restartable_postgres(self) -> tuple[Restartable, PostgresServer]:
        """A PostgreSQL server of its own (never the session's shared one) that a test may stop
        (`halt`) and start again (`resume`) with its data kept, as a container or a local process
        like `postgres()`."""
        (port,) = free_ports(1)
        timeout = self.settings.ready_timeout
        started: Restartable
        clock = time.monotonic()
        if self._use_docker():
            started, server = containers.start_postgres(self.settings.postgres_image, port, timeout)
        else:
            run_dir = self._scratch_dir() / f"postgres-{port}"
            started, server = local_processes.start_postgres(run_dir, port, timeout)
        self.timings["restartable postgres"] = time.monotonic() - clock
        self._cleanups.append(("restartable PostgreSQL", started.stop))
        return started, server

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

    # -- Keycloak, the identity provider of people's tokens (issue 16; support/keycloak.py) ------
    _keycloak: Keycloak | None = None

    def keycloak(self) -> Keycloak:
        """The session's Keycloak with deploy/keycloak's realms (started on first use): a
        container of CASEDESK_KEYCLOAK_IMAGE when the session uses Docker, else a local process."""
        if self._keycloak is None:
            image = image_from_env() if self._use_docker() else None
            clock = time.monotonic()
            started = start_keycloak(
                self._scratch_dir() / "keycloak", image, self.settings.ready_timeout
            )
            self.timings["keycloak"] = time.monotonic() - clock
            self._cleanups.append(("Keycloak", started.stop))
            self._keycloak = started
        return self._keycloak

    # -- end of Keycloak -----------------------------------------------------------------------

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="casedesk-it-"))
            # Root hands the local PostgreSQL to an unprivileged account that must reach this path.
            self._scratch.chmod(0o755)
        return self._scratch


# -- the secured broker ----------------------------------------------------------------------------
ADMIN = dev_kafka.ADMIN


@dataclass(frozen=True)
class PlainKafka:
    """A PLAINTEXT broker (a setting Casedesk keeps for development): no credentials at all."""

    bootstrap: str
    secured = False

    def connection(self, principal: str | None = None) -> dict[str, object]:
        return {"bootstrap_servers": self.bootstrap}

    def service_env(self, principal: str) -> dict[str, str]:
        return {"CASEDESK_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}


@dataclass
class SecureKafka:
    """A running secured broker: where it listens, the CA that signed its certificate and the
    SCRAM password of every principal (`admin` is a super user)."""

    bootstrap: str
    cafile: Path
    passwords: dict[str, str]
    server: Started | None = None  # None only while it starts
    secured = True

    def connection(self, principal: str | None = ADMIN) -> dict[str, object]:
        """aiokafka keyword arguments for `principal` (None: TLS without credentials)."""
        config: dict[str, object] = {
            "bootstrap_servers": self.bootstrap,
            "ssl_context": ssl.create_default_context(cafile=str(self.cafile)),
        }
        if principal is None:
            return {**config, "security_protocol": "SSL"}
        return {
            **config,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": principal,
            "sasl_plain_password": self.passwords[principal],
        }

    def service_env(self, principal: str) -> dict[str, str]:
        """The CASEDESK_KAFKA_* variables of a service process authenticating as `principal`."""
        return {
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CASEDESK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CASEDESK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CASEDESK_KAFKA_SASL_USERNAME": principal,
            "CASEDESK_KAFKA_SASL_PASSWORD": self.passwords[principal],
            "CASEDESK_KAFKA_SSL_CAFILE": str(self.cafile),
        }

    def service_settings(self, principal: str, **overrides: object) -> object:
        """`ServiceSettings` for a service authenticating as `principal`."""
        from casedesk_runtime.settings import ServiceSettings

        return ServiceSettings(
            kafka_bootstrap_servers=self.bootstrap,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=principal,
            kafka_sasl_password=self.passwords[principal],
            kafka_ssl_cafile=str(self.cafile),
            **overrides,
        )


async def _serves(kafka: SecureKafka) -> bool:
    """The broker answers an authenticated administrator and has elected its controller."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(request_timeout_ms=5000, **kafka.connection(ADMIN))  # type: ignore[arg-type]
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        return bool(cluster["brokers"]) and cluster["controller_id"] >= 0
    finally:
        await admin.close()


async def _provision(kafka: SecureKafka) -> bool:
    """The topic catalogue and the topic ownership rule, as `make up` and the chart's Job do."""
    from casedesk_runtime.topics import ensure_topics

    connection = kafka.connection(ADMIN)
    await kafka_access.apply(kafka_access.grants(), **connection)
    await ensure_topics(str(connection.pop("bootstrap_servers")), **connection)
    return True


def wait_for_secure_kafka(
    kafka: SecureKafka, timeout: float, check_alive: Callable[[], None] = lambda: None
) -> float:
    return wait_until(
        f"secured Kafka at {kafka.bootstrap}",
        lambda: _run_blocking(lambda: _serves(kafka)),
        timeout,
        check_alive,
    )


def start_secure_kafka(run_dir: Path, image: str | None, timeout: float) -> SecureKafka:
    """Start a secured single-node broker, in a container from `image` or (None) as a local
    process, on free ports; create the topic catalogue and `PRINCIPAL_ACLS`.

    The TLS material is the development PKI (`casedesk_runtime.pki`) in `run_dir/pki`: `ca.crt`
    for clients, `kafka.crt`/`kafka.key` for the broker (SANs 127.0.0.1 and localhost)."""
    from casedesk_runtime.pki import ensure_pki

    pki_dir = run_dir / "pki"
    ensure_pki(pki_dir, [dev_kafka.BROKER_IDENTITY])
    passwords = dev_kafka.new_passwords()
    port, controller_port = free_ports(2)
    properties = dev_kafka.secured_properties(
        port,
        controller_port,
        ca_pem=(pki_dir / "ca.crt").read_text(),
        cert_pem=(pki_dir / f"{dev_kafka.BROKER_IDENTITY}.crt").read_text(),
        key_pem=(pki_dir / f"{dev_kafka.BROKER_IDENTITY}.key").read_text(),
        admin_password=passwords[ADMIN],
    )
    kafka = SecureKafka(f"127.0.0.1:{port}", pki_dir / "ca.crt", passwords)

    def ready(check_alive: Callable[[], None]) -> float:
        waited = wait_for_secure_kafka(kafka, timeout, check_alive)
        _run_blocking(lambda: _provision(kafka))
        return waited

    if image is not None:
        kafka.server = containers.start_secure_kafka(
            image, port, controller_port, properties, passwords, ready
        )
    else:
        kafka.server = local_processes.start_secure_kafka(
            run_dir / "local",
            port,
            controller_port,
            properties,
            dev_kafka.scram_credentials(passwords),
            ready,
            timeout,
        )
    return kafka
