"""Acceptance of the deployment: the images of `make images` start and serve next to real Kafka and
PostgreSQL, configured the way the Helm chart configures them.

Each service gets the environment `helm template` renders for its container with
support/images-values.yaml (a production-shaped release: case, escalation and intake on PostgreSQL,
encrypted events, SMTP and SMS with credentials), with the Secrets' contents supplied here, and runs
under the chart's security context. Only addresses differ: Kafka, PostgreSQL, the case service and
the gateways are the loopback fixtures, and every gRPC server (its plaintext health listener and
its metrics endpoint too) binds 127.0.0.1 on a free port, because the containers share the host's
network. Notify's SMTP relay and SMS gateway point at ports where nothing listens: sending is not
what a health check is about.

gRPC is mutual TLS as in a release (tls.mode secrets): the development PKI (casedesk_runtime.pki)
issues each service its certificate, mounted read-only where the chart mounts the service's Secret
(tls.crt, tls.key, ca.crt). Readiness is read where the kubelet's probes read it, on the plaintext
health port; then each TLS port must answer a client holding the `operator` identity.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import grpc
import pytest
from support.chart import Secrets, chart_environments
from support.images import (
    SERVICE_NAMES,
    SERVING,
    ServiceContainer,
    build_service_images,
    run_service_image,
    wait_until_serving,
)
from support.services import free_ports, health_status

from casedesk_runtime.pki import CA_CERT, ensure_pki
from casedesk_runtime.topics import ensure_topics

# A cold build downloads every image's locked dependencies; unchanged images take seconds.
BUILD_TIMEOUT_S = 1500
SERVING_TIMEOUT_S = 120
VALUES_FILE = Path(__file__).parent / "support" / "images-values.yaml"
# Where the chart mounts a service's TLS Secret (CASEDESK_TLS_*_FILE name files in it).
TLS_DIR = "/etc/casedesk/tls"
# The identity of the test's own client: operators may call the health service of every service.
CLIENT_IDENTITY = "operator"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]


def release_secrets(postgres_env: dict[str, str], postgres_dsn: str) -> Secrets:
    """The Secrets images-values.yaml names, as an operator would create them."""
    return {
        "casedesk-postgres": {
            "username": postgres_env["POSTGRES_USER"],
            "password": postgres_env["POSTGRES_PASSWORD"],
        },
        "casedesk-intake": {
            "database-url": postgres_dsn,
            "master-key": base64.b64encode(os.urandom(32)).decode(),
        },
        "casedesk-case-cipher": {"cipher-key": base64.b64encode(os.urandom(32)).decode()},
        "casedesk-smtp": {"username": "casedesk", "password": "unused"},
        "casedesk-sms": {"token": "unused"},
    }


def loopback_addresses(
    kafka_bootstrap: str,
    postgres_env: dict[str, str],
    case_port: int,
    smtp_port: int,
    sms_port: int,
) -> dict[str, str]:
    """What replaces the chart's in-cluster addresses, wherever the chart sets the variable."""
    return {
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "POSTGRES_HOST": postgres_env["POSTGRES_HOST"],
        "POSTGRES_PORT": postgres_env["POSTGRES_PORT"],
        "POSTGRES_DBNAME": postgres_env["POSTGRES_DBNAME"],
        "CASEDESK_CASE_ADDRESS": f"127.0.0.1:{case_port}",
        "CASEDESK_SMTP_HOST": "127.0.0.1",
        "CASEDESK_SMTP_PORT": str(smtp_port),
        "CASEDESK_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms_port}/api/v1/messages",
    }


def on_loopback(
    environments: dict[str, dict[str, str]], addresses: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Each environment with the chart's addresses replaced; no variable is added."""
    unused = set(addresses).difference(*environments.values())
    assert not unused, f"the chart no longer sets {sorted(unused)}: update loopback_addresses()"
    return {
        service: {name: addresses.get(name, value) for name, value in env.items()}
        for service, env in environments.items()
    }


def tls_secrets(pki: Path, out: Path) -> dict[str, Path]:
    """Per service, a directory laid out as the chart's TLS Secret (tls.crt, tls.key, ca.crt).

    World-readable: the container's user (10001) is not the owner of the test's files; Kubernetes
    gives the mounted key to that user's group instead (defaultMode 0440 with fsGroup).
    """
    directories = {}
    for service in SERVICE_NAMES:
        directory = out / service
        directory.mkdir(parents=True)
        for source, name in ((f"{service}.crt", "tls.crt"), (f"{service}.key", "tls.key")):
            shutil.copyfile(pki / source, directory / name)
        shutil.copyfile(pki / CA_CERT, directory / "ca.crt")
        for file in directory.iterdir():
            file.chmod(0o444)
        directory.chmod(0o755)
        directories[service] = directory
    return directories


class MountingTls:
    """A Docker client whose `containers.run` also mounts a TLS directory read-only at TLS_DIR,
    so that `run_service_image` keeps the one translation of the chart's security context."""

    def __init__(self, client: docker.DockerClient, source: Path) -> None:
        self._client = client
        self._source = source

    @property
    def containers(self) -> MountingTls:
        return self

    def run(self, *args: Any, **kwargs: Any) -> Any:
        assert "volumes" not in kwargs, "run_service_image mounts volumes now: pass TLS through it"
        volumes = {str(self._source): {"bind": TLS_DIR, "mode": "ro"}}
        return self._client.containers.run(*args, volumes=volumes, **kwargs)


def client_credentials(pki: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(pki / CA_CERT).read_bytes(),
        private_key=(pki / f"{CLIENT_IDENTITY}.key").read_bytes(),
        certificate_chain=(pki / f"{CLIENT_IDENTITY}.crt").read_bytes(),
    )


@pytest.fixture
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def launched() -> Iterator[list[ServiceContainer]]:
    """The containers a test started; removed afterwards whatever the outcome."""
    started: list[ServiceContainer] = []
    yield started
    for item in started:
        item.remove()


def failure_report(problems: dict[str, str], containers: list[ServiceContainer]) -> str:
    lines = []
    for item in containers:
        if item.service in problems:
            image = ", ".join(item.container.image.tags)
            lines.append(f"--- {item.service} ({image}): {problems[item.service]}")
            lines.append(item.log_tail())
    return "\n".join(lines)


def test_every_service_image_serves_next_to_kafka_and_postgres(
    kafka_bootstrap: str,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    docker_client: docker.DockerClient,
    launched: list[ServiceContainer],
    tmp_path: Path,
) -> None:
    rendered = chart_environments(VALUES_FILE, release_secrets(postgres_env, postgres_dsn))
    assert sorted(rendered) == sorted(SERVICE_NAMES)
    for service, env in rendered.items():
        assert env["CASEDESK_TLS_CERT_FILE"] == f"{TLS_DIR}/tls.crt", service
        assert "CASEDESK_GRPC_INSECURE_DEV" not in env, service
    pki = tmp_path / "pki"
    ensure_pki(pki, [*SERVICE_NAMES, CLIENT_IDENTITY])
    secrets = tls_secrets(pki, tmp_path / "secrets")
    build_service_images(BUILD_TIMEOUT_S)
    # The chart's pre-install hook provisions the topics before any service starts.
    asyncio.run(ensure_topics(kafka_bootstrap))

    count = len(SERVICE_NAMES)
    chosen = free_ports(3 * count + 2)
    ports = dict(zip(SERVICE_NAMES, chosen[:count], strict=True))
    health_ports = dict(zip(SERVICE_NAMES, chosen[count : 2 * count], strict=True))
    metrics_ports = dict(zip(SERVICE_NAMES, chosen[2 * count : 3 * count], strict=True))
    smtp_port, sms_port = chosen[3 * count :]
    addresses = loopback_addresses(
        kafka_bootstrap, postgres_env, ports["case"], smtp_port, sms_port
    )
    environments = on_loopback(rendered, addresses)
    probed = []
    for service in SERVICE_NAMES:
        env = environments[service]
        assert "CASEDESK_GRPC_HEALTH_PORT" in env, f"the chart no longer sets it for {service}"
        env["CASEDESK_GRPC_HEALTH_PORT"] = str(health_ports[service])
        # Each pod has the chart's one metrics port to itself; here the containers share the
        # host's network, so each gets a port of its own.
        assert "CASEDESK_METRICS_PORT" in env, f"the chart no longer sets it for {service}"
        env["CASEDESK_METRICS_PORT"] = str(metrics_ports[service])
        started = run_service_image(
            MountingTls(docker_client, secrets[service]), service, ports[service], env
        )
        launched.append(started)
        # Readiness as the kubelet's probes see it: the plaintext health-only listener.
        probed.append(ServiceContainer(service, health_ports[service], started.container))

    problems = wait_until_serving(probed, SERVING_TIMEOUT_S)
    assert not problems, "service images not SERVING:\n" + failure_report(problems, probed)

    credentials = client_credentials(pki)
    over_tls = {
        service: health_status(f"127.0.0.1:{ports[service]}", timeout=5.0, credentials=credentials)
        for service in SERVICE_NAMES
    }
    assert over_tls == dict.fromkeys(SERVICE_NAMES, SERVING), over_tls
