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
- `ErasureFollower`: follows WatchErasures and forgets each erased subject in the KeyCache at
  once (`invalidate`), resuming after the last position received when the stream breaks. The
  cache's TTL bounds what it cannot cover: a replica that could not reach the stream.
- `KeyCache` (casedesk_keys) in front of the client: keys kept at most `ttl_s`, erased answers
  remembered, one fetch per key at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_status import rpc_status

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
from casedesk_keyservice.wire.erasures import tombstone_from
from casedesk_keyservice.wire.keys import MAX_SUBJECTS_PER_CALL, data_key_from
from casedesk_runtime.batching import Coalescer
from casedesk_runtime.grpc_client import channel_for
from casedesk_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 5.0
RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # between attempts to watch again, the last one repeated
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)


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
    if code in _TRANSIENT:
        return KeyUnavailable(f"the key service cannot be reached: {code.name} {message}")
    return KeyServiceRefused(f"the key service refused: {code.name} {message}")


def _erasure_detail(error: grpc.aio.AioRpcError) -> pb.Erasure | None:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(pb.Erasure.DESCRIPTOR):
            erasure = pb.Erasure()
            detail.Unpack(erasure)
            return erasure
    return None


def _checked(reply: pb.DataKey, subject: SubjectId, generation: int | None) -> DataKey:
    try:
        return data_key_from(reply, subject, generation)
    except ValueError as wrong:  # a key service that answers another key: never use it
        raise KeyUnavailable(str(wrong)) from None


@dataclass(frozen=True)
class ErasureNotice:
    """One erasure as the journal announces it: the subject, the generation erased (with every
    older one) and its position in the journal."""

    subject: SubjectId
    generation: int
    position: int


class PositionUnknown(Exception):
    """The key service's erasure journal does not know the position asked for: the caller's is
    ahead of it (a restored backup, another installation)."""


# The erasure journal as batches of (notices, the position to resume after): after a position, or
# from now (None). What every follower of erasures reads: the key cache's (below), the case
# index's and notify's store's.
ErasureBatches = Callable[[int | None], AsyncIterator[tuple[list[ErasureNotice], int]]]


def erasure_batches(channel: grpc.aio.Channel) -> ErasureBatches:
    """WatchErasures over `channel`. The first batch comes at once (possibly empty, with the
    position to resume from); the call ends when the iteration does. Raises PositionUnknown for a
    refused position, the call's AioRpcError otherwise. A notice with a malformed subject is
    skipped (logged)."""
    stub = key_service_pb2_grpc.KeyServiceStub(channel)

    async def batches(after: int | None) -> AsyncIterator[tuple[list[ErasureNotice], int]]:
        if after is None:
            request = pb.WatchErasuresRequest(from_now=True)
        else:
            request = pb.WatchErasuresRequest(after_position=after)
        call = stub.WatchErasures(request)
        try:
            async for batch in call:
                notices = []
                for erasure in batch.erasures:
                    try:
                        subject = SubjectId.from_text(erasure.subject)
                    except ValueError:
                        log.error("erasure notice with a malformed subject skipped")
                        continue
                    notices.append(ErasureNotice(subject, erasure.generation, erasure.position))
                yield notices, batch.position
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT and after:
                raise PositionUnknown(error.details() or "") from None
            raise
        finally:
            call.cancel()

    return batches


class ErasureFollower:
    """Forgets every erased subject in the cache as the key service announces it."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        invalidate: Callable[[SubjectId], None],
        retry_s: tuple[float, ...] = RETRY_S,
    ) -> None:
        self._batches = erasure_batches(channel)
        self._invalidate = invalidate
        self._retry_s = retry_s
        self.position: int | None = None  # the last position received; None before the first
        self.watching = asyncio.Event()  # set while a stream is open (its first message came)
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Follow until `stop()`; a broken stream is watched again after a pause."""
        self._task = asyncio.current_task()  # type: ignore[assignment]
        failures = 0
        while not self._stopped:
            try:
                await self._follow()
                failures = 0
            except asyncio.CancelledError:
                if self._stopped:  # stop() ended the stream's wait
                    break
                raise
            except PositionUnknown as error:
                # Our position is ahead of the journal: erasures after it may be lost to us, so
                # start from now; keys fetched from now on are checked again against the key
                # service, and the TTL ends the older ones.
                log.error("erasure stream refused our position; following from now on: %s",
                          error)  # fmt: skip
                self.position = None
            except grpc.aio.AioRpcError as error:
                if self._stopped:
                    break
                if failures == 0 or error.code() not in _TRANSIENT:
                    log.warning(
                        "erasure stream broken (%s: %s): watching again; meanwhile cached keys "
                        "end with their TTL", error.code().name, error.details(),
                    )  # fmt: skip
                failures += 1
            except Exception:  # a follower that died quietly would leave the TTL alone on guard
                log.exception("erasure stream failed: watching again")
                failures += 1
            finally:
                self.watching.clear()
            if not self._stopped:
                try:
                    await asyncio.sleep(self._retry_s[min(failures, len(self._retry_s) - 1)])
                except asyncio.CancelledError:
                    if self._stopped:
                        break
                    raise

    def stop(self) -> None:
        self._stopped = True
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def _follow(self) -> None:
        async with contextlib.aclosing(self._batches(self.position)) as batches:
            async for notices, position in batches:
                for notice in notices:
                    self._invalidate(notice.subject)
                self.position = position
                self.watching.set()


@dataclass
class ServiceKeys:
    """A service's keys: the cache (the KeySource to use), its client, the erasure follower."""

    cache: KeyCache
    client: KeyClient
    follower: ErasureFollower
    channel: grpc.aio.Channel
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.follower.run(), name="erasure-follower")

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
    return ServiceKeys(cache, client, ErasureFollower(channel, cache.invalidate), channel)


__all__ = [
    "ErasureBatches",
    "ErasureFollower",
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
