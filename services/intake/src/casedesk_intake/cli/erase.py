"""`casedesk-intake-erase --login L [--email E] [--phone P]`: shred a citizen's attachments.

Erases the citizen's data keys (one per identity the citizen used: login, e-mail, phone), which
makes every attachment encrypted under them unreadable, then removes the files. Run it with the
same CASEDESK_* settings as the service (master key, data directory). The vault it erases from is
built by the composition root (`casedesk_intake.__main__.erase`), which runs `main` with it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from casedesk_intake.application.erasure import identities
from casedesk_intake.settings import IntakeSettings
from casedesk_runtime.settings import SettingsError, load_settings

Erase = Callable[[IntakeSettings, list[str]], Coroutine[Any, Any, int]]


def main(erase: Erase, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Shred every attachment of one citizen.")
    parser.add_argument("--login", default="")
    parser.add_argument("--email", default="")
    parser.add_argument("--phone", default="", help="E.164, as intake stored it")
    args = parser.parse_args(argv)
    names = identities(args.login, args.email, args.phone)
    if not names:
        parser.error("name the citizen by --login, --email and/or --phone")
    try:
        settings = load_settings(IntakeSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    erased = asyncio.run(erase(settings, names))
    print(f"erased the data keys of {erased} identities")
    return 0
