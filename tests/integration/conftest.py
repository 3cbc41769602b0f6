"""Fixtures for the whole-system tests: real Kafka, real PostgreSQL, real service processes.

Session fixtures (started on first use, stopped at the end of the session):
  kafka_bootstrap -> "127.0.0.1:<port>", a PLAINTEXT broker for component tests
  secure_kafka    -> SecureKafka: SASL_SSL/SCRAM with ACLs, one principal per service (the
                     whole-system tests run on it, as production does)
  keycloak        -> support.keycloak.Keycloak: the development identity provider (realms
                     casedesk and portal): issuer(realm), token(realm, username), admin
  postgres_env    -> eventsourcing's POSTGRES_* variables
                     (add PERSISTENCE_MODULE=eventsourcing.postgres to select that store)
  postgres_dsn    -> "postgresql://casedesk:casedesk@127.0.0.1:<port>/casedesk"
Function fixture:
  services        -> services("casedesk_case", {...}) starts a ServiceProcess, stopped at teardown
Where the infrastructure comes from is explained in support/provisioning.py. Infrastructure that
cannot be provided is an error, never a skip, in CI and locally alike.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from casedesk_runtime.telemetry import configure_telemetry

# --import-mode=importlib leaves sys.path alone, so make `support` importable for these tests.
_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from support.endpoints import PostgresServer  # noqa: E402
from support.errors import InfrastructureError  # noqa: E402
from support.keycloak import Keycloak  # noqa: E402
from support.provisioning import SecureKafka, SessionInfrastructure  # noqa: E402
from support.services import ServiceLauncher  # noqa: E402
from support.settings import InfraSettings  # noqa: E402

# Where the session summary finds the infrastructure the fixtures started.
_INFRA_KEY = pytest.StashKey[SessionInfrastructure]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration needs real infrastructure; `-m "not integration"` skips it.
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infrastructure(request: pytest.FixtureRequest) -> Iterator[SessionInfrastructure]:
    try:
        infra = SessionInfrastructure(InfraSettings.from_env())
    except InfrastructureError as error:
        pytest.fail(str(error), pytrace=False)
    request.config.stash[_INFRA_KEY] = infra
    yield infra
    problems = infra.close()
    if problems:
        pytest.fail(
            "test infrastructure did not stop cleanly:\n" + "\n".join(problems), pytrace=False
        )


@pytest.fixture(scope="session")
def kafka_bootstrap(infrastructure: SessionInfrastructure) -> str:
    try:
        return infrastructure.kafka_bootstrap()
    except InfrastructureError as error:
        pytest.fail(f"Kafka for integration tests is not available: {error}", pytrace=False)


@pytest.fixture(scope="session")
def secure_kafka(infrastructure: SessionInfrastructure) -> SecureKafka:
    try:
        return infrastructure.secure_kafka()
    except InfrastructureError as error:
        pytest.fail(f"a secured Kafka broker is not available: {error}", pytrace=False)


@pytest.fixture(scope="session")
def keycloak(infrastructure: SessionInfrastructure) -> Keycloak:
    """Keycloak with deploy/keycloak's realms `casedesk` and `portal` (support/keycloak.py)."""
    try:
        return infrastructure.keycloak()
    except InfrastructureError as error:
        pytest.fail(f"Keycloak for integration tests is not available: {error}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server(infrastructure: SessionInfrastructure) -> PostgresServer:
    try:
        return infrastructure.postgres()
    except InfrastructureError as error:
        pytest.fail(f"PostgreSQL for integration tests is not available: {error}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_env(postgres_server: PostgresServer) -> dict[str, str]:
    return postgres_server.eventsourcing_env()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    return postgres_server.dsn


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """The test process's spans. OpenTelemetry sets its global providers once per process, so
    every test that traces as a frontend shares this one exporter (clear it before use)."""
    exporter = InMemorySpanExporter()
    configure_telemetry("integration-tests", span_exporter=exporter)
    return exporter


@pytest.fixture
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    launcher = ServiceLauncher(tmp_path_factory.mktemp("service-logs"))
    yield launcher
    launcher.stop_all()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    infra = terminalreporter.config.stash.get(_INFRA_KEY, None)
    if infra is None or not infra.timings:
        return
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in infra.timings.items())
    terminalreporter.write_line(f"casedesk infrastructure ({infra.backend}): {timings}")
