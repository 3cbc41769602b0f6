"""`python -m casedesk_notify`: load settings, configure logs and telemetry, run."""

from __future__ import annotations

import asyncio
import sys

from casedesk_notify.app import run
from casedesk_notify.settings import NotifySettings
from casedesk_runtime.logs import configure_logging
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry


def main() -> int:
    try:
        settings = load_settings(NotifySettings)
    except SettingsError as error:
        print(f"notify: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name, settings.otlp_endpoint)
    try:
        if settings.event_loop == "uvloop":
            import uvloop

            return uvloop.run(run(settings))
        return asyncio.run(run(settings))
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    sys.exit(main())
