"""`casedesk-intake-erase --login L [--email E] [--phone P]`: shred a citizen's attachments.

Erases the citizen's data keys (one per identity the citizen used: login, e-mail, phone), which
makes every attachment encrypted under them unreadable, then removes the files. Run it with the
same CASEDESK_* settings as the service (master key, data directory).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from casedesk_intake.adapters.keys import CitizenReferences, citizen_identity
from casedesk_intake.adapters.vault import AttachmentVault
from casedesk_intake.settings import IntakeSettings
from casedesk_intake.wiring import master_key
from casedesk_runtime.settings import SettingsError, load_settings


def identities(login: str, email: str, phone: str) -> list[str]:
    found = [
        citizen_identity(login=login),
        citizen_identity(email=email),
        citizen_identity(phone=phone),
    ]
    return [identity for identity in found if identity]


async def erase(settings: IntakeSettings, names: list[str]) -> int:
    key = master_key(settings)
    vault = AttachmentVault(settings.resolved_attachments_dir(), key)
    references = CitizenReferences(key)
    for identity in names:
        await vault.erase_citizen(references.of(identity))
    return len(names)


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
