"""Opening a case's attachment for the signed-in specialist, through intake's vault.

Intake decrypts only after the case service, asked with the specialist's token, lets them read
the case (and journals that read). The desk passes the content on as it arrives, checking it
against the SHA-256 and size intake recorded at upload (when recorded): the last piece is held
back until the check passes, so a file that does not match never reaches the browser whole (the
download fails instead).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

from casedesk_desk.application.ports import AttachmentInfo, AttachmentVault, OpenedAttachment
from casedesk_desk.domain.errors import RefusalKind, Refused

MAX_ID = 200


class AttachmentDamaged(Exception):
    """The content differs from what intake recorded: the download is broken off."""


class Attachments:
    def __init__(self, vault: AttachmentVault) -> None:
        self._vault = vault

    async def open(self, token: str, case_id: str, attachment_id: str) -> OpenedAttachment:
        for value in (case_id, attachment_id):
            if not value or len(value) > MAX_ID or not value.isprintable():
                raise Refused(RefusalKind.NOT_FOUND, "Вложение не найдено.")
        opened = await self._vault.open(token, case_id, attachment_id)
        return OpenedAttachment(opened.info, _checked(opened.info, opened.chunks))


async def _checked(info: AttachmentInfo, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    digest, size, held = hashlib.sha256(), 0, b""
    async for chunk in chunks:
        if held:
            yield held
        digest.update(chunk)
        size += len(chunk)
        held = chunk
        if info.size_bytes and size > info.size_bytes:
            raise AttachmentDamaged(f"more than the recorded {info.size_bytes} bytes")
    if info.size_bytes and size != info.size_bytes:
        raise AttachmentDamaged(f"{size} bytes, {info.size_bytes} recorded")
    if info.sha256 and not hmac.compare_digest(digest.hexdigest(), info.sha256.lower()):
        raise AttachmentDamaged("SHA-256 differs from the recorded one")
    if held:
        yield held
