"""Keeping uploaded files: encrypted into the vault; only metadata goes to the case service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from casedesk_intake.application.ports import Vault
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.cases import StoredAttachment
from casedesk_intake.domain.citizens import Citizen

_ATTACHMENT_NAMESPACE = uuid.UUID("5c0f4e0a-9a8e-4f3e-bb7c-2f8d1e6a9c41")


def attachment_id(derived_key: str, index: int) -> str:
    """Stable across retries of one call, so a retry overwrites instead of adding a copy."""
    return str(uuid.uuid5(_ATTACHMENT_NAMESPACE, f"{derived_key}/{index}"))


class AttachmentKeeper:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    async def keep(
        self, citizen_ref: str, derived_key: str, uploads: Sequence[Upload], citizen: Citizen
    ) -> tuple[StoredAttachment, ...]:
        """`citizen`: whose files these are (with CASEDESK_SEAL_PERSONAL_DATA, sealed with his
        data key; CitizenErased if it was destroyed)."""
        kept = []
        for index, upload in enumerate(uploads):
            identifier = attachment_id(derived_key, index)
            digest = await self._vault.store(citizen_ref, identifier, upload.content, citizen)
            kept.append(
                StoredAttachment(
                    attachment_id=identifier,
                    file_name=upload.file_name.strip(),
                    media_type=upload.media_type.strip().lower(),
                    size_bytes=len(upload.content),
                    sha256=digest,
                )
            )
        return tuple(kept)
