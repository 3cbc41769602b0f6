"""casedesk.keys.v1.KeyService: decode, one use case, encode. Who may call each RPC is
grpc_api/access.py's; refusals are grpc_api/refusals.py's.

Keys are never logged: a handout is counted (`casedesk_keys_keys_handed_out_total`) and logged at
DEBUG with the caller, the subject's first 8 hex digits and the generation; an erasure at INFO
with who, through which caller and the journal positions (never the identifiers, nor the reason:
a reference, but typed by a person).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_keys import DataKey, Keyring
from casedesk_keyservice.application import (
    ErasureFeed,
    ErasureJournal,
    Erasures,
    KeyHandout,
    key_status,
    measurements,
)
from casedesk_keyservice.grpc_api.erasers import INSECURE_DEV, Erasers
from casedesk_keyservice.grpc_api.refusals import REFUSALS, abort_for, refusal_message, refusing
from casedesk_keyservice.wire import erasures as erasure_wire
from casedesk_keyservice.wire import keys as key_wire
from casedesk_keyservice.wire.status import status_message
from casedesk_runtime.grpc_authz import current_caller
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class KeyServicer(key_service_pb2_grpc.KeyServiceServicer):
    def __init__(
        self,
        keyring: Keyring,
        erasures: Erasures,
        feed: ErasureFeed,
        journal: ErasureJournal,
        erasers: Erasers,
        kek_provider: str,
    ) -> None:
        self._handout = KeyHandout(keyring)
        self._keyring = keyring
        self._erasures = erasures
        self._feed = feed
        self._journal = journal
        self._erasers = erasers
        self._kek_provider = kek_provider

    @refusing
    async def GetCurrentKey(self, request: pb.GetCurrentKeyRequest, context: Any) -> pb.DataKey:
        subject = key_wire.subject_of(request.subject)
        return _handed_out("GetCurrentKey", await self._handout.current_key(subject))

    @refusing
    async def GetCurrentKeys(
        self, request: pb.GetCurrentKeysRequest, context: Any
    ) -> pb.GetCurrentKeysResponse:
        subjects = key_wire.subjects_of(request.subjects)
        outcomes = []
        for outcome in await self._handout.current_keys(subjects):
            if isinstance(outcome, DataKey):
                outcomes.append(pb.CurrentKeyOutcome(key=_handed_out("GetCurrentKeys", outcome)))
            else:
                outcomes.append(pb.CurrentKeyOutcome(refused=refusal_message(outcome)))
        return pb.GetCurrentKeysResponse(outcomes=outcomes)

    @refusing
    async def GetKey(self, request: pb.GetKeyRequest, context: Any) -> pb.DataKey:
        subject = key_wire.subject_of(request.subject)
        generation = key_wire.generation_of(request.generation)
        return _handed_out("GetKey", await self._handout.key(subject, generation))

    @refusing
    async def ReopenSubject(self, request: pb.ReopenSubjectRequest, context: Any) -> pb.DataKey:
        subject = key_wire.subject_of(request.subject)
        key = await self._handout.reopen(subject)
        log.info(
            "subject reopened",
            extra={"caller": _caller(), "key_subject": _short(str(subject)),
                   "generation": key.generation},
        )  # fmt: skip
        return _handed_out("ReopenSubject", key)

    @refusing
    async def EraseCitizen(
        self, request: pb.EraseCitizenRequest, context: Any
    ) -> pb.EraseCitizenResponse:
        eraser = await self._erasers.eraser(context)  # who first: strangers learn no rule
        order = erasure_wire.order_from(request)
        outcomes = await self._erasures.erase(order, eraser)
        log.info(
            "citizen erased",
            extra={
                "erased_by": eraser.name,
                "caller": eraser.caller,
                "positions": [o.record.position for o in outcomes],
                "already_erased": sum(o.already_erased for o in outcomes),
            },
        )
        return erasure_wire.erase_response(outcomes)

    async def WatchErasures(
        self, request: pb.WatchErasuresRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ErasureBatch]:
        try:
            after = erasure_wire.watch_start(request)
            async for records, position in self._feed.watch(after):
                yield erasure_wire.erasure_batch(records, position)
        except REFUSALS as error:
            await abort_for(error, context)

    @refusing
    async def GetKeyStatus(self, request: pb.GetKeyStatusRequest, context: Any) -> pb.KeyStatus:
        view = await key_status(self._keyring, self._journal, self._kek_provider)
        return status_message(view)


def _handed_out(rpc: str, key: DataKey) -> pb.DataKey:
    caller = _caller()
    measurements.handed_out(rpc, caller)
    log.debug(
        "key handed out",
        extra={"rpc": rpc, "caller": caller, "key_subject": _short(str(key.subject)),
               "generation": key.generation},
    )  # fmt: skip
    return key_wire.data_key_message(key)


def _caller() -> str:
    caller = current_caller()
    return caller.name if caller is not None and caller.name else INSECURE_DEV


def _short(subject: str) -> str:
    """Enough of a pseudonym to follow one subject through the logs, not to name it."""
    return subject[:8]


Add = Callable[[KeyServicer, grpc.aio.Server], None]
ADD_TO_SERVER: Add = key_service_pb2_grpc.add_KeyServiceServicer_to_server
