"""Takes one consumed batch of case events: plan it, park the poisoned, commit, hand over.

A record that is not a valid case event is parked on the dead-letter topic before its batch
commits (waiting out a Kafka outage), so its offset moves on only once the broker acknowledged the
dead letter. The batch's cards, deliveries and next offsets then commit in one transaction.

A plan reads the store (the cards, the replies in their window), so nothing may run between the
plan and its commit: after parking, which waits, the batch is planned again.

Before a plan, the keys of the batch's sealed fields are fetched (`BatchPlanner.prepare`); while
the key service cannot be reached the batch waits and is tried again, uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from casedesk_notify.application import measurements
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner, PlannedBatch
from casedesk_notify.application.ports import (
    DeliveryStates,
    KeysUnavailable,
    ParkingClosed,
    ParkRecord,
)

log = logging.getLogger(__name__)

KEYS_RETRY_MAX_S = 10.0
Offsets = dict[tuple[str, int], int]  # (topic, partition) -> next offset to read


class BatchHandler:
    def __init__(
        self,
        store: DeliveryStates,
        planner: BatchPlanner,
        dispatcher: Dispatcher,
        park: ParkRecord,
        journal_written: Callable[[], None],
        keys_retry_s: float = 0.5,
    ) -> None:
        """`keys_retry_s`: the first pause before planning a batch again whose keys could not be
        fetched (doubling up to `KEYS_RETRY_MAX_S`)."""
        self._keys_retry_s = keys_retry_s
        self._store = store
        self._planner = planner
        self._dispatcher = dispatcher
        self._park = park
        self._journal_written = journal_written

    def stored_offsets(self, topic: str) -> dict[int, int]:
        """Where to resume each partition: the store's offsets are the ones that count."""
        return self._store.stored_offsets(topic)

    @property
    def backlog(self) -> int:
        """Deliveries waiting to be sent."""
        return self._dispatcher.backlog

    async def handle(self, records: Sequence[Any]) -> Offsets:
        """Commit what `records` (aiokafka ConsumerRecords) cause; return the offsets committed.

        Raises `ParkingClosed` when a poisoned record could not be parked (shutdown): nothing of
        the batch is committed then, it is read again after the restart.
        """
        planned = await self._plan(records)
        if planned.poisoned:
            await self._park_poisoned(planned)
            # A lane may have released a reply's notice meanwhile: plan against the store as
            # it is now (the records decode as before, the poisoned are parked already), with
            # the keys fetched again (another batch may have fetched its own meanwhile).
            planned = await self._plan(records)
        # No await between the plan, the commit and the hand-over: a cancellation cannot split
        # them, nor a lane release a reply the plan merges.
        created = self._store.commit_batch(planned.changes)
        merged = planned.merged_ids()
        self._dispatcher.withdraw(
            merged - {d.notification_id for d, _ in planned.changes.deliveries}
        )
        self._dispatcher.submit(created)
        self._dispatcher.replies.read(planned.read_up_to)
        measurements.merged(delivery for delivery, _ in planned.changes.merged)
        if created or merged:
            self._journal_written()
        return planned.changes.offsets

    async def _plan(self, records: Sequence[Any]) -> PlannedBatch:
        """Fetch the keys of the batch's sealed fields, then plan it. While the key service
        cannot be reached the batch waits, tried again with a growing pause: nothing of it is
        committed, no offset moves, nothing is dead-lettered (a stop meanwhile cancels the
        wait; the batch is read again after the restart)."""
        pause = self._keys_retry_s
        while True:
            try:
                await self._planner.prepare(records)
                return self._planner.plan(records)
            except KeysUnavailable as error:
                log.warning(
                    "key service unavailable: the batch waits",
                    extra={"error": str(error), "retry_in_s": pause, "records": len(records)},
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, KEYS_RETRY_MAX_S)

    def caught_up(self) -> None:
        """The consumer found nothing more to read: every case event until now has been read."""
        self._dispatcher.replies.caught_up(datetime.now(UTC))

    async def _park_poisoned(self, planned: PlannedBatch) -> None:
        for record, poison in planned.poisoned:
            log.error(
                "poisoned record dead-lettered",
                extra={
                    "partition": record.partition,
                    "offset": record.offset,
                    "error": str(poison),
                },
            )
            if not await self._park(record, poison):
                raise ParkingClosed(f"{record.topic}/{record.partition}@{record.offset}")
