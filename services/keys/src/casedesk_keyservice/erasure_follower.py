"""One follower of the key service's erasure journal per process (issue #18).

The key service journals every erasure and streams the journal (`WatchErasures`). What a process
must do with an erasure differs — its key cache forgets the subject's keys, the case index deletes
his search terms, notify blanks his rows — but following the stream does not: where to start,
resuming after the last batch applied when the stream breaks, a pause that grows, what to do when
the key service does not know our position, what to log. That is `ErasureFollower`, here once;
each effect is an `ErasureListener` attached to it, so a process holds one stream however many
effects it has (a case replica's first worker: the key cache and the case index).

Two kinds of listener:

- one that needs only the erasures from its start on (`CacheInvalidation`: the key cache, whose
  keys were all fetched after that, and whose TTL covers a replica that could not reach the
  stream): `resume_after()` answers None;
- a durable one (the case index, notify's store) that keeps the position it applied in its own
  store, in the same transaction as the effect: `resume_after()` answers it (0: the journal's
  start), and `apply` records the batch's position with its effect before it returns. The
  follower passes a batch on only after the previous one was applied by every listener, so a
  restart or a broken stream resumes after a position whose effects are durable.

With a durable listener the stream starts after the lowest position the durable listeners
remember; every listener may see erasures again (after a restart, or one listener behind
another): applying an erasure twice changes nothing, for each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_keys import SubjectId

log = logging.getLogger(__name__)
RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # between attempts to watch again, the last one repeated
TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)


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
# from now (None).
ErasureBatches = Callable[[int | None], AsyncGenerator[tuple[list[ErasureNotice], int], None]]


def erasure_batches(channel: grpc.aio.Channel) -> ErasureBatches:
    """WatchErasures over `channel`. The first batch comes at once (possibly empty, with the
    position to resume from); the call ends when the iteration does. Raises PositionUnknown for a
    refused position, the call's AioRpcError otherwise. A notice with a malformed subject is
    skipped (logged)."""
    stub = key_service_pb2_grpc.KeyServiceStub(channel)

    async def batches(
        after: int | None,
    ) -> AsyncGenerator[tuple[list[ErasureNotice], int], None]:
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


class ErasureListener(Protocol):
    """What a process does with the erasures the journal announces."""

    async def resume_after(self) -> int | None:
        """The position after which this listener needs the journal: the last one it applied
        durably (0: from the journal's start), or None: only the erasures from now on."""
        ...

    async def apply(self, notices: Sequence[ErasureNotice], position: int) -> None:
        """Apply one batch (possibly empty: the journal's head, or the position reached). A
        durable listener records `position` with its effect before returning; raising breaks
        the stream, and the batch comes again."""
        ...


class CacheInvalidation:
    """The key cache's listener: each erased subject's keys are forgotten at once."""

    def __init__(self, invalidate: Callable[[SubjectId], None]) -> None:
        self._invalidate = invalidate

    async def resume_after(self) -> None:
        return None  # its keys were all fetched after it started

    async def apply(self, notices: Sequence[ErasureNotice], position: int) -> None:
        for notice in notices:
            self._invalidate(notice.subject)


class ErasureFollower:
    """Follows WatchErasures for the listeners attached, in the order attached (the key cache
    first: no key of an erased subject is handed out while his data elsewhere is forgotten)."""

    def __init__(
        self,
        batches: ErasureBatches,
        listeners: Iterable[ErasureListener] = (),
        retry_s: tuple[float, ...] = RETRY_S,
    ) -> None:
        self._batches = batches
        self._listeners = list(listeners)
        self._retry_s = retry_s
        self.position: int | None = None  # the last one applied; None: ask the listeners
        self.watching = asyncio.Event()  # set while a stream is open (its first batch applied)
        self._durable = False  # a listener remembers a position: the journal is read from it
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def attach(self, listener: ErasureListener) -> None:
        """Before `run`: a listener attached later would miss the batches before it."""
        if self._task is not None:
            raise RuntimeError("attach erasure listeners before the follower runs")
        self._listeners.append(listener)

    async def run(self) -> None:
        """Follow until `stop()`; a broken stream is watched again after a pause, after the
        last batch applied."""
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
                self._position_unknown(error)
                continue  # at once: the key service answered, it is there
            except grpc.aio.AioRpcError as error:
                if self._stopped:
                    break
                if failures == 0 or error.code() not in TRANSIENT:
                    log.warning(
                        "erasure stream broken: watching again; meanwhile cached keys end "
                        "with their TTL",
                        extra={"status": error.code().name, "error": error.details(),
                               "erasure_position": self.position},
                    )  # fmt: skip
                failures += 1
            except Exception:  # a store error, a bug: a follower that died quietly would leave
                # the TTL alone on guard and the erased citizen's data in place
                log.exception(
                    "erasure stream failed: watching again",
                    extra={"erasure_position": self.position},
                )
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
            self._task.cancel()  # ends the stream's wait; an applied batch is committed or not

    def _position_unknown(self, error: PositionUnknown) -> None:
        if self._durable:
            # Another journal (a restored backup): erasures after it may be new to us under
            # positions we passed; reading it all again misses none, and changes nothing else.
            log.error(
                "erasure journal refused our position; reading it from its start",
                extra={"erasure_position": self.position, "error": str(error)},
            )
            self.position = 0
        else:
            # Erasures after our position may be lost to the cache: keys fetched from now on are
            # checked again against the key service, and the TTL ends the older ones.
            log.error(
                "erasure journal refused our position; following it from now on",
                extra={"erasure_position": self.position, "error": str(error)},
            )
            self.position = None

    async def _resume_after(self) -> int | None:
        if self.position is not None:
            return self.position
        remembered = [
            position
            for listener in self._listeners
            if (position := await listener.resume_after()) is not None
        ]
        self._durable = bool(remembered)
        return min(remembered) if remembered else None

    async def _follow(self) -> None:
        after = await self._resume_after()
        self.position = after
        # Closed at once when a listener fails: the stream is not left open behind us.
        async with contextlib.aclosing(self._batches(after)) as batches:
            async for notices, position in batches:
                for listener in self._listeners:
                    await listener.apply(notices, position)
                self.position = position
                self.watching.set()
