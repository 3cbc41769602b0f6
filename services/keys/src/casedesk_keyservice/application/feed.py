"""The erasure journal as a stream, for every service's key cache (WatchErasures).

A watcher reads the journal after its position, then waits for the journal's head to move. The
head is polled every `poll_s` (erasures journaled by other replicas of the key service) and
looked at at once after an erasure made here (`ring`). So an erasure reaches every watcher of
every replica within about `poll_s` plus a round trip; the caches' TTL is the backstop for a
watcher that was disconnected meanwhile.

PostgreSQL positions become visible in their order (the journal writes under a table lock), so
a watcher resuming after position p never skips a record committed later with a lower one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from casedesk_keys import KeyUnavailable
from casedesk_keyservice.application import measurements
from casedesk_keyservice.application.ports import ErasureJournal
from casedesk_keyservice.domain import ErasureRecord, PositionAhead, WatchClosed

log = logging.getLogger(__name__)
DEFAULT_POLL_S = 1.0
DEFAULT_BATCH = 500


class ErasureFeed:
    def __init__(
        self, journal: ErasureJournal, poll_s: float = DEFAULT_POLL_S, batch: int = DEFAULT_BATCH
    ) -> None:
        if poll_s <= 0 or batch < 1:
            raise ValueError("the erasure feed polls at a positive interval, in batches of one+")
        self._journal = journal
        self._poll_s = poll_s
        self._batch = batch
        self._head = 0
        self._moved = asyncio.Event()  # set (and replaced) when the head moves or the feed closes
        self._look = asyncio.Event()  # an erasure was journaled here: look now
        self.closed = False

    def ring(self) -> None:
        """An erasure was journaled by this process (call on the event loop)."""
        self._look.set()

    def close(self) -> None:
        """Stop polling; every watch ends (WatchClosed): its client watches again elsewhere."""
        self.closed = True
        self._look.set()
        self._wake()

    async def run(self) -> None:
        """Follow the journal's head until closed. An unreachable journal is tried again at the
        next poll (watchers wait; the caches' TTL covers the gap)."""
        failing = False
        while not self.closed:
            try:
                head = await asyncio.to_thread(self._journal.head)
            except KeyUnavailable as error:
                if not failing:
                    log.warning("erasure journal unreachable: %s", error)
                failing = True
            else:
                if failing:
                    log.info("erasure journal reachable again")
                failing = False
                if head > self._head:
                    self._head = head
                    self._wake()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._look.wait()
            self._look.clear()

    async def watch(self, after: int | None) -> AsyncIterator[tuple[list[ErasureRecord], int]]:
        """(records, position) batches: the records after `after` (None: from now on), then the
        new ones as they come; the first batch at once, empty if there is nothing to send."""
        if self.closed:
            raise WatchClosed("the key service is stopping: watch again")
        head = await asyncio.to_thread(self._journal.head)
        if after is not None and after > head:
            raise PositionAhead(
                f"after_position {after} is ahead of the erasure journal (newest {head}): "
                "watch from_now, and drop every cached key"
            )
        position = head if after is None else after
        measurements.watching(+1)
        try:
            first = True
            while not self.closed:
                moved = self._moved  # taken before reading: a move during the read is not missed
                records = await asyncio.to_thread(self._journal.after, position, self._batch)
                if records or first:
                    position = records[-1].position if records else position
                    first = False
                    yield records, position
                    if records:
                        continue
                await moved.wait()
            raise WatchClosed("the key service is stopping: watch again")
        finally:
            measurements.watching(-1)

    def _wake(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
