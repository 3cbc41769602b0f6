"""Acceptance of the deployment: the images of `make images` start and serve next to real Kafka and
PostgreSQL, configured the way the Helm chart configures them.

Each service gets the variables deploy/helm/casedesk/templates/_env.tpl gives it with
`database.backend: postgres` (case's event store and escalation's journal on PostgreSQL), and runs
under the chart's security context. Only the gRPC bind address differs: loopback instead of the
pod's 0.0.0.0, because the containers share the host's network. Notify's SMTP relay and SMS gateway
point at ports where nothing listens: sending is not what a health check is about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import docker
import pytest
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

pytestmark = [pytest.mark.integration, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]


def chart_environments(
    kafka_bootstrap: str,
    postgres_env: dict[str, str],
    ports: dict[str, int],
    smtp_port: int,
    sms_port: int,
) -> dict[str, dict[str, str]]:
    """Per service, the chart's variables (beyond CASEDESK_GRPC_*, set by run_service_image)."""
    common = {
        "CASEDESK_LOG_LEVEL": "INFO",
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASEDESK_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    }
    case_address = f"127.0.0.1:{ports['case']}"
    return {
        "intake": {**common, "CASEDESK_CASE_ADDRESS": case_address},
        "case": {**common, "PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres_env},
        "sla": common,
        "escalation": {
            **common,
            "CASEDESK_CASE_ADDRESS": case_address,
            "CASEDESK_ESCALATION_STORE": "postgres",
            **postgres_env,
        },
        "notify": {
            **common,
            "CASEDESK_SMTP_HOST": "127.0.0.1",
            "CASEDESK_SMTP_PORT": str(smtp_port),
            "CASEDESK_SMTP_TLS": "starttls",
            "CASEDESK_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms_port}/sms",
        },
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
    docker_client: docker.DockerClient,
    launched: list[ServiceContainer],
) -> None:
    build_service_images(BUILD_TIMEOUT_S)
    # The chart's pre-install hook provisions the topics before any service starts.
    asyncio.run(ensure_topics(kafka_bootstrap))

    *grpc_ports, smtp_port, sms_port = free_ports(len(SERVICE_NAMES) + 2)
    ports = dict(zip(SERVICE_NAMES, grpc_ports, strict=True))
    environments = chart_environments(kafka_bootstrap, postgres_env, ports, smtp_port, sms_port)
    for service in SERVICE_NAMES:
        launched.append(
            run_service_image(docker_client, service, ports[service], environments[service])
        )

    problems = wait_until_serving(launched, SERVING_TIMEOUT_S)

    assert not problems, "service images not SERVING:\n" + failure_report(problems, launched)
