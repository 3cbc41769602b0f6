"""AttachmentVaultService over gRPC: the desk opens a case's attachment for a specialist.

The caller is the desk (its certificate; the access table admits nobody else) and the person is
whoever's token it forwards as `x-person-token`. Intake only requires that the token is there:
it does not verify it, the case service does, with the read it is sent with (the token is the
person's, the read is journaled as his, application/attachment_opening.py). The file streams in
the contract's pieces, the first with the attachment's description; a file that is not the one
the case recorded ends the stream DATA_LOSS before its last piece.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from casedesk.intake.v1 import attachment_vault_pb2 as vault_pb2
from casedesk.intake.v1 import attachment_vault_pb2_grpc as vault_grpc
from casedesk_intake.application.attachment_opening import AttachmentOpening
from casedesk_intake.domain.errors import IntakeError, Unauthenticated
from casedesk_intake.grpc_api.access import VAULT_SERVICE
from casedesk_intake.grpc_api.vault_status import vault_status
from casedesk_intake.wire.attachment_chunks import chunk_message, opening_request
from casedesk_runtime.grpc_server import ServiceBinding
from casedesk_runtime.logs import get_logger
from casedesk_runtime.oidc import TokenRejected
from casedesk_runtime.oidc_grpc import PERSON_TOKEN_KEY, person_token
from casedesk_runtime.telemetry import meter

log = get_logger(__name__)


class AttachmentVaultServicer(vault_grpc.AttachmentVaultServiceServicer):
    def __init__(self, opening: AttachmentOpening) -> None:
        self._opening = opening
        self._outcomes = meter(__name__).create_counter(
            "intake.attachment_opens", description="Attachments opened and refused, by code"
        )

    async def OpenAttachment(
        self, request: vault_pb2.OpenAttachmentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[vault_pb2.AttachmentChunk]:
        sent = 0
        try:
            token = _forwarded_token(context)
            wanted = opening_request(request)
            opened = await self._opening.open(token, wanted.case_id, wanted.attachment_id)
            description = opened.attachment
            for piece in opened.chunks():
                yield chunk_message(description if sent == 0 else None, piece)
                sent += 1
        except IntakeError as refusal:
            status = vault_status(refusal)
            self._outcomes.add(1, {"code": status.code.name})
            log.info(
                "attachment not opened",
                extra={
                    "code": status.code.name,
                    "reason": status.details,
                    "case_id": request.case_id,
                    "chunks_sent": sent,
                },
            )
            await context.abort_with_status(status)
        except Exception as failure:
            if isinstance(failure, grpc.aio.AbortError):
                raise
            self._outcomes.add(1, {"code": "INTERNAL"})
            log.exception("opening an attachment failed", extra={"case_id": request.case_id})
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        else:
            self._outcomes.add(1, {"code": "OK"})


def _forwarded_token(context: grpc.aio.ServicerContext) -> str:
    """The person's token as the desk forwarded it, unverified (the case service verifies it)."""
    try:
        token = person_token(context.invocation_metadata())
    except TokenRejected as rejected:
        raise Unauthenticated(f"{PERSON_TOKEN_KEY} rejected: {rejected.reason}") from None
    if not token:
        raise Unauthenticated(
            f"an attachment is opened for a person: send their access token as metadata "
            f"{PERSON_TOKEN_KEY}"
        )
    return token


def vault_binding(servicer: AttachmentVaultServicer) -> ServiceBinding:
    """The (add_to_server, servicer, name) triple the runtime's GrpcServer takes."""
    return (vault_grpc.add_AttachmentVaultServiceServicer_to_server, servicer, VAULT_SERVICE)
