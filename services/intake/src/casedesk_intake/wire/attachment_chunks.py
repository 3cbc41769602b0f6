"""AttachmentVaultService's messages (casedesk.intake.v1.attachment_vault) <-> domain values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk_intake.domain.cases import StoredAttachment
from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.wire.values import attachment_messages

# Intake's own ids are UUIDs; this bounds what anybody else's could be before it is looked up.
MAX_ATTACHMENT_ID = 128


@dataclass(frozen=True)
class OpeningRequest:
    case_id: str
    attachment_id: str


def opening_request(request: vault_pb2.OpenAttachmentRequest) -> OpeningRequest:
    """The request's ids, checked; InvalidRequest naming each bad field."""
    problems = []
    case_id, attachment_id = request.case_id.strip(), request.attachment_id.strip()
    if not case_id:
        problems.append(("case_id", "is required"))
    elif not _is_uuid(case_id):
        problems.append(("case_id", "is not a case id (a UUID)"))
    if not attachment_id:
        problems.append(("attachment_id", "is required"))
    elif len(attachment_id) > MAX_ATTACHMENT_ID:
        problems.append(("attachment_id", f"is longer than {MAX_ATTACHMENT_ID} characters"))
    if problems:
        raise InvalidRequest(problems)
    return OpeningRequest(case_id, attachment_id)


def chunk_message(attachment: StoredAttachment | None, data: bytes) -> vault_pb2.AttachmentChunk:
    """A piece of the file; the first one (`attachment` given) also describes it."""
    chunk = vault_pb2.AttachmentChunk(data=data)
    if attachment is not None:
        chunk.attachment.CopyFrom(attachment_messages([attachment])[0])
    return chunk


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
