"""Acceptance of the deployment: the images of `make images` start and serve next to real Kafka and
PostgreSQL, configured the way the Helm chart configures them.

Each service gets the environment `helm template` renders for its container with
support/images-values.yaml (a production-shaped release: case, escalation and intake on PostgreSQL,
encrypted events, SMTP and SMS with credentials), with the Secrets' contents supplied here, and runs
under the chart's security context. Only addresses differ: Kafka, PostgreSQL, the case service and
the gateways are the loopback fixtures, and every gRPC server binds 127.0.0.1 on a free port,
because the containers share the host's network. Notify's SMTP relay and SMS gateway point at
ports where nothing listens: sending is not what a health check is about.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from support.chart import Secrets, chart_environments
from support.images import (
    SERVICE_NAMES,
    ServiceContainer,
    build_service_images,
    run_service_image,
    wait_until_serving,
)
from support.services import free_ports

from casedesk_runtime.topics import ensure_topics

# A cold build downloads every image's locked dependencies; unchanged images take seconds.
BUILD_TIMEOUT_S = 1500
SERVING_TIMEOUT_S = 120
VALUES_FILE = Path(__file__).parent / "support" / "images-values.yaml"

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
) -> None:
    rendered = chart_environments(VALUES_FILE, release_secrets(postgres_env, postgres_dsn))
    assert sorted(rendered) == sorted(SERVICE_NAMES)
    build_service_images(BUILD_TIMEOUT_S)
    # The chart's pre-install hook provisions the topics before any service starts.
    asyncio.run(ensure_topics(kafka_bootstrap))

    *grpc_ports, smtp_port, sms_port = free_ports(len(SERVICE_NAMES) + 2)
    ports = dict(zip(SERVICE_NAMES, grpc_ports, strict=True))
    addresses = loopback_addresses(
        kafka_bootstrap, postgres_env, ports["case"], smtp_port, sms_port
    )
    environments = on_loopback(rendered, addresses)
    for service in SERVICE_NAMES:
        launched.append(
            run_service_image(docker_client, service, ports[service], environments[service])
        )

    problems = wait_until_serving(launched, SERVING_TIMEOUT_S)

    assert not problems, "service images not SERVING:\n" + failure_report(problems, launched)
