"""Where a reply's notice waits out its reply window (domain.reply_window), durably.

The reply's deliveries are stored `deferred` by the batch that consumed the reply. Whichever
comes first settles them, each in one commit guarded by that state, so a reply's notice is sent or
merged, never both, and a crash in between leaves it `deferred`, to be settled after the restart:

- a status change in the window is consumed: the batch that creates its notice makes the reply's
  `merged` (`BatchPlanner`), and `withdraw` tells their lanes to drop them;
- the window ends and the consumer has read past it: the lane makes them `pending`
  (`DeliveryStates.release`) and sends them like any other.

"Read past it": the window's end by the clock is not enough while the consumer lags (after a
restart longer than the window, the status change may still wait in Kafka). So a lane also waits
until the consumer has read, on the reply's partition, an event stamped after the window's end,
or has found nothing more to read (`ReadHorizon`); but at most one more window, so that a stalled
consumer delays a lone reply's notice and never loses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum

from casedesk_notify.application.deliveries import Delivery
from casedesk_notify.application.ports import DeliveryStates

Partition = tuple[str, int]


class Settled(Enum):
    RELEASED = "released"  # pending now: send it
    WITHDRAWN = "withdrawn"  # merged into a status notice: drop it
    STOPPED = "stopped"  # shutting down: it stays deferred for the next run


class ReadHorizon:
    """How far the consumer has read case events, in the events' own time, per partition."""

    def __init__(self) -> None:
        self._read: dict[Partition, datetime] = {}
        self._everything_until: datetime | None = None

    def advance(self, read_up_to: Mapping[Partition, datetime]) -> None:
        for partition, moment in read_up_to.items():
            self._read[partition] = max(moment, self._read.get(partition, moment))

    def caught_up(self, moment: datetime) -> None:
        """Nothing was left to read at `moment`: every event stamped before it has been read (that
        Kafka had by then: the case service publishes within moments of storing)."""
        self._everything_until = moment

    def reached(self, partition: Partition, moment: datetime) -> bool:
        read = [self._read.get(partition), self._everything_until]
        return any(at is not None and at >= moment for at in read)


class DeferredReplies:
    def __init__(self, store: DeliveryStates, window_s: float) -> None:
        self._store = store
        self._window = timedelta(seconds=window_s)
        self.horizon = ReadHorizon()
        self._withdrawn: set[str] = set()
        self._changed = asyncio.Event()

    def read(self, read_up_to: Mapping[Partition, datetime]) -> None:
        if read_up_to:
            self.horizon.advance(read_up_to)
            self._wake()

    def caught_up(self, moment: datetime) -> None:
        self.horizon.caught_up(moment)
        self._wake()

    def withdraw(self, notification_ids: Iterable[str]) -> None:
        """These deferred deliveries were merged (committed): their lanes drop them."""
        self._withdrawn.update(notification_ids)
        self._wake()

    async def settle(self, delivery: Delivery, stopping: asyncio.Event) -> Settled:
        """Wait until `delivery` (deferred, at the head of its lane) is merged or released."""
        due = delivery.deferred_until
        assert due is not None
        latest = due + self._window
        partition = (delivery.source.topic, delivery.source.partition)
        while True:
            if delivery.notification_id in self._withdrawn:
                self._withdrawn.discard(delivery.notification_id)
                return Settled.WITHDRAWN
            now = datetime.now(UTC)
            if now >= due and (self.horizon.reached(partition, due) or now >= latest):
                released = self._store.release(delivery.notification_id)
                return Settled.RELEASED if released else Settled.WITHDRAWN
            wait = (due if now < due else latest) - now
            if await self._wait_for_news(wait.total_seconds(), stopping):
                return Settled.STOPPED

    async def _wait_for_news(self, timeout: float, stopping: asyncio.Event) -> bool:
        """Sleep until something changed, `timeout` passed or stopping began; True: stopping."""
        changed = asyncio.ensure_future(self._changed.wait())
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait(
                {changed, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            changed.cancel()
            stop.cancel()
        return stopping.is_set()

    def _wake(self) -> None:
        """Every waiting lane looks again; later waits wait for the next change."""
        self._changed.set()
        self._changed = asyncio.Event()
