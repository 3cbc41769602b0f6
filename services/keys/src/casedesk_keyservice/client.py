"""How another service gets citizens' keys: `casedesk_keyservice.client`.

    keys = connect(settings, "keys:50056", ttl_s=keys_settings.cache_ttl_s)
    await keys.start()                     # follows WatchErasures in the background
    cipher = FieldCipher(keys.cache)       # casedesk_keys: seal and open fields
    ...
    await keys.aclose()

- `KeyClient`: casedesk_keys' KeySource over gRPC (mutual TLS, the process's own certificate:
  its identity decides what the key service hands it). Statuses come back as the library's
  errors: FAILED_PRECONDITION erased -> KeyErased (with the tombstone's subject, generation and
  time), NOT_FOUND -> KeyNotFound, DATA_LOSS -> WrappedKeyDamaged, UNAVAILABLE or a deadline ->
  KeyUnavailable (retry later), and a refusal that will not go away by retrying
  (PERMISSION_DENIED, INVALID_ARGUMENT, ...) -> KeyServiceRefused.
- `ErasureFollower` (erasure_follower.py): the process's one follower of WatchErasures. The
  key cache's listener (`CacheInvalidation`) forgets each erased subject at once; a process
  with a durable effect of its own (the case index's search terms, notify's rows) attaches its
  listener before `start()`, and the one stream then resumes after the position that listener
  keeps (`keys.follower.attach(listener)`, then `keys.start()`). The cache's TTL bounds what
  the stream cannot cover: a replica that could not reach it.
- `KeyCache` (casedesk_keys) in front of the client: keys kept at most `ttl_s`, erased answers
  remembered, one fetch per key at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_keys import (
    DataKey,
    KeyCache,
    KeyErased,
    KeyNotFound,
    KeysError,
    KeyUnavailable,
    SubjectId,
    WrappedKeyDamaged,
)
from casedesk_keys.cache import DEFAULT_MAX_ENTRIES, DEFAULT_TTL_S
from casedesk_keyservice.erasure_follower import (
    TRANSIENT,
    CacheInvalidation,
    ErasureBatches,
    ErasureFollower,
    ErasureListener,
    ErasureNotice,
    PositionUnknown,
    erasure_batches,
)
from casedesk_keyservice.wire.erasures import tombstone_from
from casedesk_keyservice.wire.keys import MAX_SUBJECTS_PER_CALL, data_key_from
from casedesk_runtime.batching import Coalescer
from casedesk_runtime.grpc_client import channel_for
from casedesk_runtime.grpc_errors import status_details
from casedesk_runtime.settings import ServiceSettings

DEFAULT_TIMEOUT_S = 5.0
_CODES = {code.value[0]: code for code in grpc.StatusCode}


class KeyServiceRefused(KeysError):
    """The key service refused this call for a reason retrying will not change: this service may
    not call it (PERMISSION_DENIED: its certificate's identity is not in the access table), or
    the request is wrong. A deployment or programming error; the status is in the message."""


class KeyClient:
    """A KeySource over the key service's gRPC API.

    Current keys asked for while a call for others is on its way travel together in one
    GetCurrentKeys call (a burst of new cases: one call, one commit in the key service, where
    each key took a call of its own); a key service that does not know GetCurrentKeys yet (a
    rolling upgrade) gets single GetCurrentKey calls."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_keys_per_call: int = MAX_SUBJECTS_PER_CALL,
    ) -> None:
        self._stub = key_service_pb2_grpc.KeyServiceStub(channel)
        self._timeout_s = timeout_s
        self._batched = max_keys_per_call > 1
        self._current: Coalescer[SubjectId, DataKey] = Coalescer(
            self._current_together, max_batch=max(1, max_keys_per_call)
        )

    async def current_key(self, subject: SubjectId) -> DataKey:
        if self._batched:
            return await self._current(subject)
        return await self._current_one(subject)

    async def _current_one(self, subject: SubjectId) -> DataKey:
        request = pb.GetCurrentKeyRequest(subject=str(subject))
        reply = await self._call(self._stub.GetCurrentKey, request)
        return _checked(reply, subject, None)

    async def _current_together(
        self, subjects: Sequence[SubjectId]
    ) -> Sequence[DataKey | BaseException]:
        request = pb.GetCurrentKeysRequest(subjects=[str(s) for s in subjects])
        try:
            reply = await self._stub.GetCurrentKeys(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise keys_error(error) from None
            self._batched = False  # an older key service: one call per key from now on
            return await asyncio.gather(
                *(self._current_one(s) for s in subjects), return_exceptions=True
            )
        if len(reply.outcomes) != len(subjects):
            raise KeyUnavailable("the key service answered for other subjects than asked")
        return [_outcome(o, s) for o, s in zip(reply.outcomes, subjects, strict=True)]

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        request = pb.GetKeyRequest(subject=str(subject), generation=generation)
        reply = await self._call(self._stub.GetKey, request)
        return _checked(reply, subject, generation)

    async def reopen(self, subject: SubjectId) -> DataKey:
        """A new generation for an erased subject (intake only, for a citizen's new case)."""
        request = pb.ReopenSubjectRequest(subject=str(subject))
        reply = await self._call(self._stub.ReopenSubject, request)
        return _checked(reply, subject, None)

    async def erase_subjects(self, subjects: Sequence[str], reason: str) -> int:
        """EraseCitizen for `subjects` (at most 100) as this service itself, with no person's
        token (the key service journals `system:<caller>`; the access table says who may: the
        case service's retention). How many were erased now, not before. A refusal raises the
        call's AioRpcError (the caller retries at its next turn)."""
        request = pb.EraseCitizenRequest(subjects=list(subjects), reason=reason)
        reply = await self._stub.EraseCitizen(request, timeout=self._timeout_s)
        return sum(1 for erased in reply.subjects if not erased.already_erased)

    async def _call(self, method: Callable[..., object], request: object) -> pb.DataKey:
        try:
            return await method(request, timeout=self._timeout_s)  # type: ignore[misc]
        except grpc.aio.AioRpcError as error:
            raise keys_error(error) from None


def keys_error(error: grpc.aio.AioRpcError) -> KeysError:
    """The library's error for a refused call."""
    code, message = error.code(), error.details() or ""
    erased = _erasure_detail(error) if code == grpc.StatusCode.FAILED_PRECONDITION else None
    return _error_for(code, message, erased)


def _outcome(outcome: pb.CurrentKeyOutcome, subject: SubjectId) -> DataKey | KeysError:
    """One subject's part of a GetCurrentKeys reply, as GetCurrentKey would have ended."""
    if outcome.WhichOneof("outcome") == "key":
        try:
            return _checked(outcome.key, subject, None)
        except KeysError as wrong:
            return wrong
    refused = outcome.refused
    code = _CODES.get(refused.code, grpc.StatusCode.UNKNOWN)
    return _error_for(code, refused.message, refused.erased if refused.HasField("erased") else None)


def _error_for(code: grpc.StatusCode, message: str, erased: pb.Erasure | None) -> KeysError:
    if code == grpc.StatusCode.FAILED_PRECONDITION and erased is not None:
        try:
            return KeyErased(tombstone_from(erased))
        except ValueError:
            return KeyServiceRefused(f"the key service answered an unreadable erasure: {message}")
    if code == grpc.StatusCode.NOT_FOUND:
        return KeyNotFound(message)
    if code == grpc.StatusCode.DATA_LOSS:
        return WrappedKeyDamaged(message)
    if code in TRANSIENT:
        return KeyUnavailable(f"the key service cannot be reached: {code.name} {message}")
    return KeyServiceRefused(f"the key service refused: {code.name} {message}")


def _erasure_detail(error: grpc.aio.AioRpcError) -> pb.Erasure | None:
    for detail in status_details(error):
        erasure = pb.Erasure()
        if detail.Unpack(erasure):
            return erasure
    return None


def _checked(reply: pb.DataKey, subject: SubjectId, generation: int | None) -> DataKey:
    try:
        return data_key_from(reply, subject, generation)
    except ValueError as wrong:  # a key service that answers another key: never use it
        raise KeyUnavailable(str(wrong)) from None


@dataclass
class ServiceKeys:
    """A service's keys: the cache (the KeySource to use), its client, the process's erasure
    follower (the cache's listener attached; attach others before `start`)."""

    cache: KeyCache
    client: KeyClient
    follower: ErasureFollower
    channel: grpc.aio.Channel
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.follower.run(), name="erasure-follower")

    async def reopen(self, subject: SubjectId) -> DataKey:
        """A new generation for an erased subject (ReopenSubject: intake, for a citizen's new
        case of his own), or a live one's current key; the cache forgets what it held of the
        subject (his erasure included), so the next `current_key` is the new generation."""
        key = await self.client.reopen(subject)
        self.cache.invalidate(subject)
        return key

    async def aclose(self) -> None:
        self.follower.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.channel.close()


def connect(
    settings: ServiceSettings,
    address: str,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    server_name: str | None = None,
) -> ServiceKeys:
    """The key service at `address` through this process's mutual TLS (channel_for)."""
    channel = channel_for(settings, address, server_name=server_name)
    return over(channel, ttl_s=ttl_s, max_entries=max_entries, timeout_s=timeout_s)


def over(
    channel: grpc.aio.Channel,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ServiceKeys:
    """The same over a channel made elsewhere (tests, tools)."""
    client = KeyClient(channel, timeout_s)
    cache = KeyCache(client, ttl_s=ttl_s, max_entries=max_entries)
    follower = ErasureFollower(erasure_batches(channel), [CacheInvalidation(cache.invalidate)])
    return ServiceKeys(cache, client, follower, channel)


__all__ = [
    "CacheInvalidation",
    "ErasureBatches",
    "ErasureFollower",
    "ErasureListener",
    "ErasureNotice",
    "KeyClient",
    "KeyServiceRefused",
    "PositionUnknown",
    "ServiceKeys",
    "connect",
    "erasure_batches",
    "keys_error",
    "over",
]
