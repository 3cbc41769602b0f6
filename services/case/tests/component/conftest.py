"""An in-process case service (gRPC server, feed, case index) on SQLite, and a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2_grpc
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.grpc_api.servicer import CaseServicer
from casedesk_case.settings import CaseSettings
from casedesk_case.testing import CaseApplication
from casedesk_runtime.grpc_server import GrpcServer


@dataclass
class RunningService:
    app: CaseApplication
    stub: case_service_pb2_grpc.CaseServiceStub
    projector: CaseIndexProjector


# The service as it runs (commands through the pipeline), and with a thread per command.
@pytest.fixture(params=["pipeline", "thread-per-command"])
async def service(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[RunningService]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    app = CaseApplication(env=env)
    executor = ThreadPoolExecutor(4)
    feed = CaseEventFeed(app, idle_s=0.05)
    projector = CaseIndexProjector(app, app.index)
    app.on_recorded(feed.ring)  # rings only while somebody watches
    app.on_recorded(projector.bell.ring)
    pipeline = CommandPipeline(app, executor) if request.param == "pipeline" else None
    server = GrpcServer(
        CaseSettings(grpc_port=0, grpc_insecure_dev=True),  # the in-process tests speak plaintext
        [(case_service_pb2_grpc.add_CaseServiceServicer_to_server,
          CaseServicer(app, executor, feed, pipeline), "casedesk.case.v1.CaseService")],
    )  # fmt: skip
    port = await server.start()
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(projector.run(0.05))]
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield RunningService(app, case_service_pb2_grpc.CaseServiceStub(channel), projector)
    finally:
        await channel.close()
        await server.stop(0)
        feed.bell.close()
        projector.bell.close()
        await asyncio.gather(*tasks)
        if pipeline is not None:
            pipeline.stop()
        executor.shutdown()
        app.close()
