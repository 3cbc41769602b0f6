"""What the desk's browser tests stand on, started once per test module: a real case service
(PostgreSQL in a schema of its own, mutual TLS, the real Keycloak's tokens) and a real desk
process calling it as `desk`; and axe-core, to check the pages the browser shows.

    @pytest.fixture(scope="module")
    def stand(request: pytest.FixtureRequest) -> Iterator[DeskStand]:
        with desk_stand(request, schema="callbacks_…", callers=["case", "intake", "desk"]) as s:
            yield s

    stand.desk.url                            # http://127.0.0.1:<port>
    stand.cases("intake").CreateCase(…)       # the case service as intake reaches it

    with axe_context(browser) as context:     # a desk session that lets axe-core in
        page = open_page(context)
        assert axe_violations(page) == []
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_runtime import pki

from .desk import DeskProcess, start_desk
from .key_service import tls_env
from .keycloak import Keycloak
from .people import case_oidc_env
from .services import ServiceProcess, start_service

# axe-core, pinned in services/desk/tests/a11y/ and put in this cache by its install.sh.
AXE_JS = Path(
    os.environ.get("CASEDESK_AXE_JS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "casedesk/desk-a11y/node_modules/axe-core/axe.min.js"
)
# The impacts the check refuses (axe-core's four: minor, moderate, serious, critical).
AXE_REFUSED = {"serious", "critical"}

CaseStubs = Callable[[str], case_service_pb2_grpc.CaseServiceStub]


@dataclass(frozen=True)
class DeskStand:
    pki_dir: Path
    schema: str  # the case service's PostgreSQL schema
    case_service: ServiceProcess
    desk: DeskProcess
    # The case service as a caller reaches it by its certificate: cases("intake").
    cases: CaseStubs


@contextmanager
def _case_service(
    postgres_env: dict[str, str],
    postgres_dsn: str,
    keycloak: Keycloak,
    pki_dir: Path,
    schema: str,
    settings: dict[str, str],
    log_dir: Path,
) -> Iterator[ServiceProcess]:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    env = {
        **postgres_env,
        **case_oidc_env(keycloak),
        **tls_env(pki_dir, "case"),
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "CASEDESK_RELAY_ENABLED": "false",
        "CASEDESK_SHUTDOWN_GRACE_S": "1",
        **settings,
    }
    service = start_service("casedesk_case", env, log_dir=log_dir)
    yield service
    service.terminate()
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def _desk(
    case_service: ServiceProcess, keycloak: Keycloak, pki_dir: Path, log_dir: Path
) -> Iterator[DeskProcess]:
    env = {
        **case_oidc_env(keycloak),
        **tls_env(pki_dir, "desk"),
        "CASEDESK_CASE_ADDRESS": case_service.address,
        "CASEDESK_DESK_COOKIE_SECURE": "false",  # plain http on loopback
    }
    process = start_desk(env, log_dir)
    yield process
    process.stop()


@contextmanager
def _case_stubs(case_service: ServiceProcess, pki_dir: Path) -> Iterator[CaseStubs]:
    channels: list[grpc.Channel] = []

    def stub(name: str) -> case_service_pb2_grpc.CaseServiceStub:
        channel = grpc.secure_channel(case_service.address, pki.client_credentials(pki_dir, name))
        channels.append(channel)
        return case_service_pb2_grpc.CaseServiceStub(channel)

    yield stub
    for channel in channels:
        channel.close()


@contextmanager
def desk_stand(
    request: pytest.FixtureRequest,
    *,
    schema: str,
    callers: list[str],
    case_settings: dict[str, str] | None = None,
) -> Iterator[DeskStand]:
    """For a module fixture: a certificate for the case service and each of `callers`, the case
    service on `schema` (created, and dropped afterwards) with `case_settings` besides the common
    ones, and the desk; on the session's PostgreSQL and Keycloak (conftest.py)."""
    postgres_env: dict[str, str] = request.getfixturevalue("postgres_env")
    postgres_dsn: str = request.getfixturevalue("postgres_dsn")
    keycloak: Keycloak = request.getfixturevalue("keycloak")
    tmp_path_factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    pki_dir = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(pki_dir, callers)
    with ExitStack() as stack:
        case_service = stack.enter_context(
            _case_service(
                postgres_env,
                postgres_dsn,
                keycloak,
                pki_dir,
                schema,
                case_settings or {},
                tmp_path_factory.mktemp("case-logs"),
            )
        )
        desk = stack.enter_context(
            _desk(case_service, keycloak, pki_dir, tmp_path_factory.mktemp("desk-logs"))
        )
        cases = stack.enter_context(_case_stubs(case_service, pki_dir))
        yield DeskStand(pki_dir, schema, case_service, desk, cases)


def chat_case(citizen: types_pb2.Citizen, subject: str, description: str) -> pb.CreateCaseRequest:
    """A citizen's technical chat case about signing in, as intake registers it for him (the
    actor is the citizen by his portal login): send it as cases("intake").CreateCase(...)."""
    return pb.CreateCaseRequest(
        context=pb.CommandContext(
            idempotency_key=str(uuid.uuid4()),
            actor=types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id=citizen.account_login),
        ),
        channel=types_pb2.PORTAL_CHAT,
        type=types_pb2.TECHNICAL,
        category=types_pb2.REGISTRATION_SIGN_IN,
        citizen=citizen,
        content=types_pb2.CaseContent(subject=subject, description=description),
    )


@contextmanager
def axe_context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own desk session) that lets axe-core in: the desk's CSP
    (default-src 'self') refuses injected scripts, and axe is the test's, not the page's."""
    opened = browser.new_context(locale="ru-RU", bypass_csp=True)
    try:
        yield opened
    finally:
        opened.close()


def open_page(context: Any) -> Any:
    """A new tab in the context (its session), waiting up to 20 s for what it is asked."""
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now, one line each."""
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is not installed at {AXE_JS} (services/desk/tests/a11y/install.sh)")
    page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.map(n => n.target.join(" "))}))"""
    )
    return [
        f"{v['impact']} {v['id']}: {', '.join(v['nodes'][:5])}"
        for v in found
        if v["impact"] in AXE_REFUSED
    ]
