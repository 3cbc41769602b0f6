"""`python -m casedesk_intake`: serve IntakeService (with health and reflection) until SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from casedesk_intake.grpc_api import binding
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.wiring import assembled
from casedesk_runtime.collector import tune_garbage_collector
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.logs import configure_logging
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry


async def serve(settings: IntakeSettings) -> None:
    telemetry = configure_telemetry(settings.service_name, settings.otlp_endpoint)
    try:
        async with assembled(settings) as parts:
            server = GrpcServer(settings, [binding(parts.servicer)])
            tune_garbage_collector()
            await server.serve_until_signal()
    finally:
        telemetry.shutdown()


def main() -> int:
    try:
        settings = load_settings(IntakeSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
