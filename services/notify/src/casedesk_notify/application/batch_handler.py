"""Takes one consumed batch of case events: plan it, park the poisoned, commit, hand over.

A record that is not a valid case event is parked on the dead-letter topic before its batch
commits (waiting out a Kafka outage), so its offset moves on only once the broker acknowledged the
dead letter. The batch's cards, deliveries and next offsets then commit in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.application.ports import DeliveryStates, ParkingClosed, ParkRecord

log = logging.getLogger(__name__)

Offsets = dict[tuple[str, int], int]  # (topic, partition) -> next offset to read


class BatchHandler:
    def __init__(
        self,
        store: DeliveryStates,
        planner: BatchPlanner,
        dispatcher: Dispatcher,
        park: ParkRecord,
        journal_written: Callable[[], None],
    ) -> None:
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
        planned = self._planner.plan(records)
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
        # No await between the commit and the hand-over: a cancellation cannot split them.
        created = self._store.commit_batch(planned.changes)
        self._dispatcher.submit(created)
        if created:
            self._journal_written()
        return planned.changes.offsets
