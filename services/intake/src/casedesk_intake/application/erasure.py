"""Erasing a citizen's attachments: shred the data keys of every identity the citizen used."""

from __future__ import annotations

from collections.abc import Sequence

from casedesk_intake.application.ports import CitizenReferences, Vault
from casedesk_intake.domain.citizens import citizen_identity


def identities(login: str, email: str, phone: str) -> list[str]:
    found = [
        citizen_identity(login=login),
        citizen_identity(email=email),
        citizen_identity(phone=phone),
    ]
    return [identity for identity in found if identity]


async def erase_citizen(vault: Vault, references: CitizenReferences, names: Sequence[str]) -> int:
    for identity in names:
        await vault.erase_citizen(references.of(identity))
    return len(names)
