"""An in-process case service (gRPC server, feed, case index) on SQLite, and a client.

`service`: plaintext development mode (no caller known), commands through the pipeline and with
a thread per command. `secure_service`: mutual TLS with the access table, callers by certificate
(`secure_service.stub_as("desk")`). Both verify person tokens against `idp`, a fake identity
provider on loopback (casedesk_runtime.testing.identity_provider).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2_grpc
from casedesk_case.adapters.person_tokens import OidcPersonTokens
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.application.search_terms import SearchTerms
from casedesk_case.application.timeline import CaseTimeline
from casedesk_case.grpc_api.access import CASE_ACCESS
from casedesk_case.grpc_api.desk_reads import DEFAULT_MAX_QUEUE_STREAMS
from casedesk_case.grpc_api.people import People
from casedesk_case.grpc_api.servicer import CaseServicer
from casedesk_case.settings import CaseSettings
from casedesk_case.testing import CaseApplication
from casedesk_case.wire.personal import ReplyOpener
from casedesk_keys import IndexKey
from casedesk_runtime import pki
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.oidc import TokenVerifier
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

from ..conftest import Keys

CALLERS = ("case", "intake", "escalation", "desk", "operator", "sla")


@dataclass
class RunningService:
    app: CaseApplication
    stub: case_service_pb2_grpc.CaseServiceStub
    projector: CaseIndexProjector
    port: int = 0
    pki_dir: Path | None = None
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def stub_as(self, caller: str) -> case_service_pb2_grpc.CaseServiceStub:
        """A client presenting `caller`'s certificate (secure_service only)."""
        assert self.pki_dir is not None, "plaintext service: no caller identities"
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(self.pki_dir / pki.CA_CERT).read_bytes(),
            private_key=(self.pki_dir / f"{caller}.key").read_bytes(),
            certificate_chain=(self.pki_dir / f"{caller}.crt").read_bytes(),
        )
        channel = grpc.aio.secure_channel(f"127.0.0.1:{self.port}", credentials)
        self.channels.append(channel)
        return case_service_pb2_grpc.CaseServiceStub(channel)


@pytest.fixture(scope="module")  # shared: a test that takes it down starts its own
def idp() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider(realm="casedesk", audience="casedesk-case") as provider:
        yield provider


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, list(CALLERS))
    return out


@asynccontextmanager
async def running_case_service(
    tmp_path: Path,
    settings: CaseSettings,
    people: People,
    *,
    pipelined: bool = True,
    access: Any = None,
    pki_dir: Path | None = None,
    case_timeline: CaseTimeline | None = None,
    max_queue_streams: int = DEFAULT_MAX_QUEUE_STREAMS,
    keys: Keys | None = None,
    index_key: IndexKey | None = None,
) -> AsyncIterator[RunningService]:
    """`keys`: personal data sealed with them (CASEDESK_SEAL_PERSONAL_DATA on), search terms
    under their index key; `index_key`: search terms without sealing."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    personal = None if keys is None else keys.personal_data(asyncio.get_running_loop())
    terms = None
    if keys is not None and personal is not None:
        terms = SearchTerms(keys.index_key, personal.open_citizen)
    elif index_key is not None:
        terms = SearchTerms(index_key)
    app = CaseApplication(env=env, personal_data=personal, search_terms=terms)
    executor = ThreadPoolExecutor(4)
    feed = CaseEventFeed(app, idle_s=0.05)
    projector = CaseIndexProjector(app, app.index)
    app.on_recorded(feed.ring)  # rings only while somebody watches
    app.on_recorded(projector.bell.ring)
    pipeline = CommandPipeline(app, executor) if pipelined else None
    servicer = CaseServicer(
        app, executor, feed, pipeline, people,
        case_timeline=case_timeline, max_queue_streams=max_queue_streams,
        opener=None if personal is None else ReplyOpener(personal),
    )  # fmt: skip
    server = GrpcServer(
        settings,
        [(case_service_pb2_grpc.add_CaseServiceServicer_to_server, servicer,
          "casedesk.case.v1.CaseService")],
        access=access,
    )  # fmt: skip
    port = await server.start()
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(projector.run(0.05))]
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    running = RunningService(
        app, case_service_pb2_grpc.CaseServiceStub(channel), projector, port, pki_dir
    )
    try:
        yield running
    finally:
        for opened in (channel, *running.channels):
            await opened.close()
        await server.stop(0)
        feed.bell.close()
        projector.bell.close()
        await asyncio.gather(*tasks)
        if pipeline is not None:
            pipeline.stop()
        executor.shutdown()
        app.close()


def people_of(idp: FakeIdentityProvider) -> People:
    return People(OidcPersonTokens(TokenVerifier(idp.issuer, "casedesk-case")))


# The service as it runs (commands through the pipeline), and with a thread per command.
@pytest.fixture(params=["pipeline", "thread-per-command"])
async def service(
    tmp_path: Path, request: pytest.FixtureRequest, idp: FakeIdentityProvider
) -> AsyncIterator[RunningService]:
    settings = CaseSettings(grpc_port=0, grpc_insecure_dev=True)  # in-process: plaintext
    async with running_case_service(
        tmp_path, settings, people_of(idp), pipelined=request.param == "pipeline"
    ) as running:
        yield running


@pytest.fixture
async def secure_service(
    tmp_path: Path, pki_dir: Path, idp: FakeIdentityProvider
) -> AsyncIterator[RunningService]:
    settings = CaseSettings(
        grpc_port=0,
        tls_cert_file=str(pki_dir / "case.crt"),
        tls_key_file=str(pki_dir / "case.key"),
        tls_ca_file=str(pki_dir / pki.CA_CERT),
    )
    async with running_case_service(
        tmp_path, settings, people_of(idp), access=CASE_ACCESS, pki_dir=pki_dir
    ) as running:
        yield running
