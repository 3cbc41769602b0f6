"""`python -m casedesk_escalation`: the escalation service process."""

from __future__ import annotations

import asyncio
import sys

from casedesk_escalation.app import run
from casedesk_escalation.policy_file import PolicyError
from casedesk_escalation.settings import EscalationSettings
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry


def main() -> int:
    try:
        settings = load_settings(EscalationSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name, settings.otlp_endpoint)
    try:
        return asyncio.run(run(settings))
    except PolicyError as error:
        get_logger(__name__).error("cannot start: %s", error)
        return 2
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    sys.exit(main())
