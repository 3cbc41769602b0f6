"""Follows the key service's erasure journal (`WatchErasures`) for notify (issue #18).

The key client's own follower (`casedesk_keyservice.client.ErasureFollower`) only forgets a
subject in the key cache, and starts from now: enough for a cache, not for a store that must
forget an erased citizen's rows even when the erasure happened while notify was down, and that
needs each erasure's generation (a subject reopened later has live rows under a newer key). So
notify follows the stream itself, read through the client (`erasure_batches`): each batch's
subjects are forgotten in the cache first (no key
of theirs is used from then on), then `ErasureSweep.apply` blanks their rows and records the
batch's position in the same transaction; the stream resumes after that position, also after a
restart. A store that never applied an erasure reads the journal from its start.

A broken stream is watched again after a pause (0.1 s growing to 5 s); meanwhile the key cache's
TTL still ends the use of an erased key, and the rows are blanked when the stream is back. A
position the key service refuses as ahead of its journal (a restored backup, another
installation) is dropped: the journal is read again from its start (applying an erasure twice
changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import grpc

from casedesk_keys import SubjectId
from casedesk_keyservice.client import PositionUnknown, erasure_batches
from casedesk_notify.application.erasures import Erasure, ErasureSweep

log = logging.getLogger(__name__)
RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # between attempts to watch again, the last one repeated
_TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)


class ErasureWatch:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        forget_key: Callable[[SubjectId], None],
        sweep: ErasureSweep,
        retry_s: tuple[float, ...] = RETRY_S,
    ) -> None:
        """`forget_key`: the key cache's `invalidate`."""
        self._batches = erasure_batches(channel)
        self._forget_key = forget_key
        self._sweep = sweep
        self._retry_s = retry_s
        self.position: int | None = None  # applied up to; read from the store at the start
        self.caught_up = asyncio.Event()  # set once a batch was applied (the journal's head)
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Follow until `stop()`."""
        self._task = asyncio.current_task()  # type: ignore[assignment]
        failures = 0
        while not self._stopped:
            try:
                await self._follow()
                failures = 0
            except asyncio.CancelledError:
                if self._stopped:  # stop() cancelled the call under way
                    break
                raise
            except PositionUnknown as error:
                log.error(
                    "erasure journal refused our position; reading it from its start",
                    extra={"erasure_position": self.position, "error": str(error)},
                )
                self.position = 0
                continue
            except grpc.aio.AioRpcError as error:
                if self._stopped:
                    break
                if failures == 0 or error.code() not in _TRANSIENT:
                    log.warning(
                        "erasure stream broken: watching again; meanwhile cached keys end "
                        "with their TTL",
                        extra={"status": error.code().name, "error": error.details()},
                    )
                failures += 1
            except Exception:  # a store error, a bug: never leave the rows unforgotten quietly
                log.exception("erasure stream failed: watching again")
                failures += 1
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

    async def _follow(self) -> None:
        if self.position is None:
            self.position = self._sweep.resume_after()
        async with contextlib.aclosing(self._batches(self.position)) as batches:
            async for notices, position in batches:
                erasures = []
                for notice in notices:
                    self._forget_key(notice.subject)  # before the rows: no key of his used now
                    erasures.append(Erasure(str(notice.subject), notice.generation))
                if erasures or position != self.position:
                    self._sweep.apply(erasures, position)
                self.position = position
                self.caught_up.set()
