"""A specialist at the desk opens an attachment of a case (AttachmentVaultService).

Intake keeps the files and their keys but decides nothing about people: it asks the case service
for the case with the specialist's own token, so the case service's read rule decides whether he
sees it and its access journal records the read as his, via intake, with the purpose below. Only
a case it answered with, and an attachment that case lists, is decrypted: the file's key is the
case's citizen's, found by the same pseudonym its arrival was stored under.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from casedesk_intake.application.ports import CaseService, CitizenReferences, Vault
from casedesk_intake.domain.cases import StoredAttachment
from casedesk_intake.domain.errors import AttachmentNotFound
from casedesk_intake.domain.opened_attachments import checked_chunks

# Why the person reads the case, as the access journal records it.
OPENING_PURPOSE = "открытие вложения"


@dataclass(frozen=True)
class OpenedAttachment:
    attachment: StoredAttachment
    content: bytes

    def chunks(self) -> Iterator[bytes]:
        """The content in the contract's pieces; AttachmentDamaged instead of the last piece
        when it is not the file the case recorded."""
        return checked_chunks(self.content, self.attachment.sha256)


class AttachmentOpening:
    def __init__(self, cases: CaseService, vault: Vault, references: CitizenReferences) -> None:
        self._cases = cases
        self._vault = vault
        self._references = references

    async def open(self, person_token: str, case_id: str, attachment_id: str) -> OpenedAttachment:
        """Raises CaseServiceError (the case service's refusal, as it answered), AttachmentNotFound,
        AttachmentErased or AttachmentDamaged."""
        case = await self._cases.read_for_person(case_id, person_token, OPENING_PURPOSE)
        attachment = case.attachment(attachment_id)
        if attachment is None:
            raise AttachmentNotFound()
        reference = self._references.of(case.citizen.identity())
        content = await self._vault.read(reference, attachment_id)
        return OpenedAttachment(attachment, content)
