"""Intake's AttachmentVaultService over gRPC (mutual TLS as `desk`), for the person whose access
token travels as `x-person-token`: intake asks the case service with it whether they may read
the case (a journaled read with the purpose «открытие вложения») before it decrypts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from casedesk.intake.v1 import attachment_vault_pb2 as pb
from casedesk.intake.v1 import attachment_vault_pb2_grpc
from casedesk_desk.adapters.case_service import PERSON_TOKEN
from casedesk_desk.application.ports import OpenedAttachment
from casedesk_desk.wire import attachments as wire
from casedesk_desk.wire.cases import attachment


class IntakeAttachmentVault:
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._stub = attachment_vault_pb2_grpc.AttachmentVaultServiceStub(channel)
        self._timeout_s = timeout_s

    async def open(self, token: str, case_id: str, attachment_id: str) -> OpenedAttachment:
        # The deadline covers the whole download: intake's files are a few MiB at most.
        call = self._stub.OpenAttachment(
            pb.OpenAttachmentRequest(case_id=case_id, attachment_id=attachment_id),
            metadata=[(PERSON_TOKEN, token)],
            timeout=self._timeout_s,
        )
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as error:
            call.cancel()
            raise wire.refused(error) from None
        if first is grpc.aio.EOF or not first.HasField("attachment"):
            call.cancel()
            raise wire.refused_empty()
        return OpenedAttachment(attachment(first.attachment), _content(call, first.data))


async def _content(
    call: grpc.aio.UnaryStreamCall[pb.OpenAttachmentRequest, pb.AttachmentChunk], first: bytes
) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        while True:
            chunk = await call.read()
            if chunk is grpc.aio.EOF:
                return
            if chunk.data:
                yield chunk.data
    except grpc.aio.AioRpcError as error:
        raise wire.refused(error) from None
    finally:
        call.cancel()
