"""One consumed batch of case events -> the changes to commit at once (see adapters.store).

For every record: decode it, move the case card forward, decide the notices, render them, and
wrap each into a pending delivery with its `Requested` journal entry. Nothing is sent here and
nothing is written: the consumer commits the returned batch in one transaction.

Records of other topics notify reads (escalation.decisions.v1) are decoded by their topic's own
decoder into the same facts and go the same way, in the same transaction.

A specialist's public reply is planned `deferred` until its reply window ends (see
domain.reply_window); a status change that collects replies takes those of its case still in
their window, from this batch or the store, into its own notice, and plans them `merged`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from casedesk_notify.application.deliveries import (
    ConsumedBatch,
    Delivery,
    RenderedMessage,
    SourceRecord,
)
from casedesk_notify.application.ports import (
    ERASED_REASON,
    ERASED_TEXT,
    CitizenErased,
    DecodedEvent,
    EventDecoder,
    FieldOpener,
    MessageRenderer,
    NotificationJournal,
    PoisonRecord,
)
from casedesk_notify.application.sealing import (
    card_holds_tokens,
    open_card,
    open_delivery,
    seal_card,
    seal_delivery,
)
from casedesk_notify.domain import (
    CaseCard,
    DeliveryChannel,
    NotifyPolicy,
    PublicReply,
    Registered,
    ReplyWindow,
    apply,
    notices_for,
)
from casedesk_notify.domain.identity import notification_id

log = logging.getLogger(__name__)

Partition = tuple[str, int]
NO_WINDOW = ReplyWindow(0)


@dataclass
class PlannedBatch:
    changes: ConsumedBatch = field(default_factory=ConsumedBatch)
    poisoned: list[tuple[Any, PoisonRecord]] = field(default_factory=list)  # (record, why)
    # The instant of the latest event read on each partition (how far the consumer has read).
    read_up_to: dict[Partition, datetime] = field(default_factory=dict)
    # This batch's reply notices planned deferred, by case (in clear).
    deferred: dict[str, list[Delivery]] = field(default_factory=dict)
    # The cards this batch moved forward, in clear (`changes.cards` holds them as stored:
    # sealed, application.sealing).
    cards: dict[str, CaseCard] = field(default_factory=dict)

    def merged_ids(self) -> set[str]:
        return {delivery.notification_id for delivery, _ in self.changes.merged}


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
        window: ReplyWindow = NO_WINDOW,
        load_deferred: Callable[[str], list[Delivery]] = lambda case_id: [],
        decoders: Mapping[str, EventDecoder] | None = None,
        opener: FieldOpener | None = None,
    ) -> None:
        """`window`: the reply window (none by default); `load_deferred`: the stored reply
        notices of a case still in their window (the store's `deferred`); `decoders`: the
        decoder of each other topic read (by topic name), `decoder` being case.events.v1's;
        `opener`: the one the decoders open sealed fields with (wire.sealed), whose keys
        `prepare` fetches before each plan; none: plain events only."""
        self._decoder = decoder
        self._decoders = dict(decoders or {})
        self._catalog = catalog
        self._journal = journal
        self._policy = policy
        self._channels = frozenset(channels)
        self._load_card = load_card
        self._window = window
        self._load_deferred = load_deferred
        self._opener = opener

    async def prepare(self, records: Sequence[Any]) -> None:
        """Fetch the keys `plan(records)` will open sealed fields with: those the records'
        tokens name, their cases' cards' (to learn of an erasure), and those of the replies a
        status change may take. Raises `KeysUnavailable` (the key service cannot be reached)."""
        opener = self._opener
        if opener is None:
            return
        seen: set[str] = set()
        opener.collecting = True  # the decoders note the keys the tokens name
        try:
            for record in records:
                try:
                    decoder = self._decoders.get(record.topic, self._decoder)
                    event = decoder.decode(record.value or b"")
                except PoisonRecord:
                    continue  # the plan parks it
                if event.case_id in seen:
                    continue
                seen.add(event.case_id)
                card = self._load_card(event.case_id)
                if card is not None and card.sealed_by:
                    opener.want(card.sealed_by)  # to open it, or to learn of an erasure
                if event.fact is not None and self._window.collects(event.fact):
                    for reply in self._load_deferred(event.case_id):
                        opener.want(reply.sealed_by)
                        with contextlib.suppress(PoisonRecord):
                            self._decoder.decode(reply.source.value)
        finally:
            opener.collecting = False
        await opener.fetch()

    def plan(self, records: Sequence[Any]) -> PlannedBatch:
        """`records` are aiokafka ConsumerRecords (or anything with their fields)."""
        planned = PlannedBatch()
        changes = planned.changes
        for record in records:
            changes.offsets[(record.topic, record.partition)] = record.offset + 1
            try:
                decoder = self._decoders.get(record.topic, self._decoder)
                event = decoder.decode(record.value or b"")
            except PoisonRecord as poison:
                planned.poisoned.append((record, poison))
                continue
            where = (record.topic, record.partition)
            planned.read_up_to[where] = max(
                event.occurred_at, planned.read_up_to.get(where, event.occurred_at)
            )
            try:
                self._plan_event(planned, record, event)
            except PoisonRecord as poison:  # a stored token of its case that does not open
                planned.poisoned.append((record, poison))
        return planned

    def _plan_event(self, planned: PlannedBatch, record: Any, event: DecodedEvent) -> None:
        changes = planned.changes
        if event.fact is None:
            return
        card = planned.cards.get(event.case_id) or self._stored_card(event.case_id)
        updated = apply(card, event.fact)
        if updated is None:
            # Created was never seen (topic truncated, or written before contacts existed).
            log.warning("event for an unknown case skipped", extra={"case_id": event.case_id})
            return
        erased = event.erased or self._erased(updated)
        if erased:  # nothing is sent, and the card keeps no personal data of his any more
            updated = updated.erased(ERASED_TEXT)
        # Both raise (a stored token that does not open) before the batch changed: poison only.
        stored = self._sealed_card(updated)
        taken = self._take_replies(planned, event) if self._window.collects(event.fact) else []
        planned.cards[event.case_id] = updated
        changes.cards[event.case_id] = stored
        notices = notices_for(
            updated,
            event.fact,
            self._policy,
            replies=[text for text, _ in taken],
            repeat_of=self._number_of_repeated(changes, event),
        )
        deferred_until = (
            self._window.due(event.occurred_at) if isinstance(event.fact, PublicReply) else None
        )
        source = SourceRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )
        for notice in notices:
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
                deferred_until=deferred_until,
            )
            if erased:
                self._suppress(changes, delivery)
                continue
            # Stored sealed with the card's key (plain events: in clear); the journal, the
            # reply window within this batch and the merges read it in clear.
            kept = self._sealed_delivery(delivery, updated.sealed_by)
            changes.deliveries.append((kept, self._journal.requested(delivery)))
            if deferred_until is not None:
                planned.deferred.setdefault(event.case_id, []).append(delivery)
        for _, replies in taken:
            for reply in replies:
                into = notification_id(event.event_id, reply.channel)
                entry = self._journal.decided(
                    reply, "Merged", _merged(into, self._window), None, other=into
                )
                changes.merged.append((reply, entry))

    def _stored_card(self, case_id: str) -> CaseCard | None:
        """The stored card of a case, opened (its key was fetched by `prepare`)."""
        card = self._load_card(case_id)
        if card is None:
            return None
        if self._opener is None:
            if card.sealed_by and card_holds_tokens(card):
                raise PoisonRecord(
                    f"case card of {case_id} is stored sealed but no key service is "
                    "configured: set CASEDESK_KEY_SERVICE_ADDRESS"
                )
            return card
        return open_card(card, self._opener)

    def _sealed_card(self, card: CaseCard) -> CaseCard:
        return card if self._opener is None else seal_card(card, self._opener)

    def _sealed_delivery(self, delivery: Delivery, key_ref: str) -> Delivery:
        if self._opener is None:
            return delivery
        try:
            return seal_delivery(delivery, key_ref, self._opener)
        except CitizenErased:  # `erased` said otherwise: a planning bug, never sent in clear
            raise PoisonRecord(f"case {delivery.case_id}: its citizen's key is erased") from None

    def _opened(self, delivery: Delivery) -> Delivery:
        """A stored deferred reply notice in clear (its masked recipient is journaled when it is
        merged); an erased citizen's reads the placeholder."""
        if self._opener is None or not delivery.sealed_by:
            return delivery
        try:
            return open_delivery(delivery, self._opener)
        except CitizenErased:
            return replace(delivery, recipient=ERASED_TEXT, sealed_by="")

    def _erased(self, card: CaseCard) -> bool:
        return (
            bool(card.sealed_by)
            and self._opener is not None
            and self._opener.erased(card.sealed_by)
        )

    def _suppress(self, changes: ConsumedBatch, delivery: Delivery) -> None:
        """A notice to an erased citizen: recorded as not sent, with the reason, no text kept."""
        blank = replace(
            delivery,
            recipient=ERASED_TEXT,
            message=RenderedMessage(template=delivery.message.template),
            deferred_until=None,
        )
        entry = self._journal.decided(blank, "Suppressed", ERASED_REASON, None)
        changes.suppressed.append((blank, entry, ERASED_REASON))
        log.info(
            "notice not sent: citizen erased",
            extra={"notification_id": blank.notification_id, "case_id": blank.case_id},
        )

    def _take_replies(
        self, planned: PlannedBatch, event: DecodedEvent
    ) -> list[tuple[str, list[Delivery]]]:
        """The case's replies still in their window when `event` happened: (text, the reply's
        deferred notices) each, oldest first; taken, so that no later change takes them too."""
        merged = planned.merged_ids()
        stored = [self._opened(delivery) for delivery in self._load_deferred(event.case_id)]
        waiting = stored + planned.deferred.pop(event.case_id, [])
        by_reply: dict[str, list[Delivery]] = {}
        for delivery in waiting:
            if delivery.notification_id not in merged:
                by_reply.setdefault(delivery.source_event_id, []).append(delivery)
        taken = []
        for deliveries in by_reply.values():
            reply = self._decoder.decode(deliveries[0].source.value)
            if isinstance(reply.fact, PublicReply) and self._window.covers(
                reply.occurred_at, event.occurred_at
            ):
                taken.append((reply.fact.text, deliveries))
        return taken

    def _number_of_repeated(self, changes: ConsumedBatch, event: DecodedEvent) -> str:
        """The number of the case a new case repeats, when notify knows that case."""
        if not isinstance(event.fact, Registered) or not event.fact.repeat_of:
            return ""
        original = changes.cards.get(event.fact.repeat_of) or self._load_card(event.fact.repeat_of)
        return original.number if original is not None else ""


def _merged(into: str, window: ReplyWindow) -> str:
    return (
        f"merged into {into}: the status notice that followed this reply within "
        f"{window.seconds:g} s carries it"
    )
