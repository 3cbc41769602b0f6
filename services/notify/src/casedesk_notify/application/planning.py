"""One consumed batch of case events -> the changes to commit at once (see adapters.store).

For every record: decode it, move the case card forward, decide the notices, render them, and
wrap each into a pending delivery with its `Requested` journal entry. Nothing is sent here and
nothing is written: the consumer commits the returned batch in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from casedesk_notify.application.deliveries import ConsumedBatch, Delivery, SourceRecord
from casedesk_notify.application.ports import (
    DecodedEvent,
    EventDecoder,
    MessageRenderer,
    NotificationJournal,
    PoisonRecord,
)
from casedesk_notify.domain import CaseCard, DeliveryChannel, NotifyPolicy, apply, notices_for
from casedesk_notify.domain.identity import notification_id

log = logging.getLogger(__name__)


@dataclass
class PlannedBatch:
    changes: ConsumedBatch = field(default_factory=ConsumedBatch)
    poisoned: list[tuple[Any, PoisonRecord]] = field(default_factory=list)  # (record, why)


class BatchPlanner:
    def __init__(
        self,
        decoder: EventDecoder,
        catalog: MessageRenderer,
        policy: NotifyPolicy,
        channels: Collection[DeliveryChannel],
        load_card: Callable[[str], CaseCard | None],
        *,
        journal: NotificationJournal,
    ) -> None:
        self._decoder = decoder
        self._catalog = catalog
        self._journal = journal
        self._policy = policy
        self._channels = frozenset(channels)
        self._load_card = load_card

    def plan(self, records: Sequence[Any]) -> PlannedBatch:
        """`records` are aiokafka ConsumerRecords (or anything with their fields)."""
        planned = PlannedBatch()
        changes = planned.changes
        for record in records:
            changes.offsets[(record.topic, record.partition)] = record.offset + 1
            try:
                event = self._decoder.decode(record.value or b"")
            except PoisonRecord as poison:
                planned.poisoned.append((record, poison))
                continue
            self._plan_event(changes, record, event)
        return planned

    def _plan_event(self, changes: ConsumedBatch, record: Any, event: DecodedEvent) -> None:
        if event.fact is None:
            return
        card = changes.cards.get(event.case_id) or self._load_card(event.case_id)
        updated = apply(card, event.fact)
        if updated is None:
            # Created was never seen (topic truncated, or written before contacts existed).
            log.warning("event for an unknown case skipped", extra={"case_id": event.case_id})
            return
        changes.cards[event.case_id] = updated
        source = SourceRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )
        for notice in notices_for(updated, event.fact, self._policy):
            if notice.channel not in self._channels:
                continue
            delivery = Delivery(
                notification_id=notification_id(event.event_id, notice.channel),
                source_event_id=event.event_id,
                case_id=event.case_id,
                case_version=event.case_version,
                correlation_id=event.correlation_id,
                channel=notice.channel,
                recipient=notice.recipient,
                message=self._catalog.render(notice),
                source=source,
            )
            changes.deliveries.append((delivery, self._journal.requested(delivery)))
