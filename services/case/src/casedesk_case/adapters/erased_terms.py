"""An erased citizen's search terms leave the case index as soon as the key service announces the
erasure (issue #18: "Search without plaintext", and erasure within seconds everywhere).

The key service journals every erasure and streams the journal (WatchErasures: the erasures
after a position, then each new one). `ErasedTerms` follows it from the position the case index
remembers (`CaseIndex.erasure_position`: the last erasure it applied), and for each batch deletes
the terms of every case sealed with an erased key and remembers the erasures, in one
transaction (`CaseIndex.forget_erased`, adapters/readmodel/erased_keys.py); the projector then
adds no term of theirs. So:

- a restart resumes after the last erasure applied: erasures made while the service was down
  (or before this index existed: position 0 reads the journal from its first erasure) are
  applied on start;
- applying an erasure twice is harmless, so it runs beside the index in the first worker of
  every replica (CASEDESK_INDEX_ENABLED), not under the projector's lease: the replica that
  learns an erasure first deletes the terms;
- a broken stream is watched again after a pause, from the position reached; a position the key
  service does not know (its journal is another one: a restored backup) is answered
  INVALID_ARGUMENT, and the journal is then read again from its first erasure.

Terms written before they named their citizen's key (an index made before this) name none: only a
rebuild of the index removes those (cli/rebuild_index.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.views import ErasedKey
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # between attempts to watch again, the last one repeated
# The erasure journal after a position, as batches of (erasures, the position to resume after).
Watch = Callable[[int], AsyncGenerator[tuple[Sequence[ErasedKey], int], None]]


class PositionUnknown(Exception):
    """The key service does not know the position asked for (its journal is another one)."""


class ErasedTerms:
    def __init__(
        self, index: CaseIndex, watch: Watch, retry_s: tuple[float, ...] = RETRY_S
    ) -> None:
        self._index = index
        self._watch = watch
        self._retry_s = retry_s
        self.position: int | None = None  # the journal's, reached; None: read from the index
        self.watching = asyncio.Event()  # set once a batch was applied (the first comes at once)
        self._stopped = False
        self._task: asyncio.Task[Any] | None = None

    async def run(self) -> None:
        """Follow until `stop()`."""
        self._task = asyncio.current_task()
        failures = 0
        while not self._stopped:
            try:
                await self._follow()
                failures = 0
            except asyncio.CancelledError:
                if self._stopped:
                    return
                raise
            except PositionUnknown as error:
                log.error("erasure journal does not know position %s (%s): reading it from its "
                          "first erasure", self.position, error)  # fmt: skip
                self.position = 0
            except Exception as error:  # any failure: watched again after a pause
                if failures == 0:
                    log.warning("erasure stream for the search terms broken (%s): watching again",
                                error)  # fmt: skip
                failures += 1
            if self._stopped:
                return
            try:
                await asyncio.sleep(self._retry_s[min(failures, len(self._retry_s) - 1)])
            except asyncio.CancelledError:
                if self._stopped:
                    return
                raise

    def stop(self) -> None:
        self._stopped = True
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()  # ends the stream's wait; an applied batch is committed or not

    async def _follow(self) -> None:
        if self.position is None:
            self.position = await asyncio.to_thread(self._index.erasure_position)
        # Closed at once when a batch fails: the stream is not left open behind us.
        async with contextlib.aclosing(self._watch(self.position)) as batches:
            async for erasures, position in batches:
                if erasures:
                    deleted = await asyncio.to_thread(self._index.forget_erased, list(erasures))
                    log.info(
                        "erased citizens' search terms deleted",
                        extra={"erasures": len(erasures), "terms": deleted, "position": position},
                    )
                self.position = position
                self.watching.set()


def key_service_erasures(channel: Any) -> Watch:
    """WatchErasures of the key service over `channel` (the case service's mutual TLS), read
    through its client (`erasure_batches`), as the index's erased keys."""
    from casedesk_keyservice import client

    batches = client.erasure_batches(channel)

    async def watch(after: int) -> AsyncGenerator[tuple[Sequence[ErasedKey], int], None]:
        try:
            async with contextlib.aclosing(batches(after)) as stream:
                async for notices, position in stream:
                    erased = [ErasedKey(str(n.subject), n.generation, n.position) for n in notices]
                    yield erased, position
        except client.PositionUnknown as error:
            raise PositionUnknown(str(error)) from None

    return watch
