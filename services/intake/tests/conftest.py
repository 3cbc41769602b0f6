"""Intake in-process on a grpc.aio server, talking over real gRPC to a stand-in case service."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.__main__ import Assembly, assembled, intake_server
from casedesk_intake.settings import IntakeSettings

sys.path.insert(0, str(Path(__file__).parent))

from intake_messages import MASTER_KEY, frontend_entries, identity_settings

from casedesk_intake.testing.case_stand_in import CaseServiceStandIn


@dataclass
class RunningIntake:
    stub: intake_grpc.IntakeServiceStub
    cases: CaseServiceStandIn
    parts: Assembly
    settings: IntakeSettings


def intake_settings(data_dir: Path, **overrides: object) -> IntakeSettings:
    values: dict[str, object] = {
        "grpc_port": 0,
        "data_dir": data_dir,
        "master_key": MASTER_KEY,
        "frontends": frontend_entries(),
        "citizen_rate_per_s": 1000.0,
        "citizen_burst": 1000.0,
        "shutdown_grace_s": 0.0,
        "grpc_insecure_dev": True,  # the in-process tests speak plaintext (TLS: tests/integration)
        **identity_settings(),
    }
    values.update(overrides)
    return IntakeSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {}


@pytest.fixture
async def intake(
    tmp_path: Path, settings_overrides: dict[str, object]
) -> AsyncIterator[RunningIntake]:
    cases = CaseServiceStandIn()
    case_server = grpc.aio.server()
    case_grpc.add_CaseServiceServicer_to_server(cases, case_server)
    case_port = case_server.add_insecure_port("127.0.0.1:0")
    await case_server.start()
    settings = intake_settings(tmp_path, **settings_overrides)
    case_channel = grpc.aio.insecure_channel(f"127.0.0.1:{case_port}")
    async with assembled(settings, case_channel) as parts:
        server = intake_server(settings, parts)
        port = await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield RunningIntake(intake_grpc.IntakeServiceStub(channel), cases, parts, settings)
        await server.stop(0)
    await case_channel.close()
    await case_server.stop(0)
