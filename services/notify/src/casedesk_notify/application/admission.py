"""The per-recipient limit at the head of a lane: send now, hold, merge, or suppress.

Before a delivery's first attempt its lane asks the gate. Within the recipient's window it goes at
once. Beyond it, the delivery is *held* (state `held`, a journal entry with the reason and when it
is due) and its lane waits for room; other lanes go on. A status change is never dropped silently:

- a held status notice is *superseded* by a later status notice of the same case already queued
  behind it: the citizen learns the current status in one message instead of two (recorded, with
  the id of the notice that replaces it);
- when `hold_max` notices to one recipient are held already, a further one is *suppressed*: not
  sent, recorded with the reason (a flood of cases naming one phone number must not queue
  thousands of SMS for that person, nor fill notify's memory).

Neither is a delivery failure: nothing is dead-lettered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum

from casedesk_notify.application.deliveries import (
    Delivery,
    DeliveryState,
    JournalEntry,
    Verdict,
)
from casedesk_notify.application.ports import NotificationJournal
from casedesk_notify.application.verdicts import VerdictWriter
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.domain.recipient_limit import RecipientLimit, recipient_key

log = logging.getLogger(__name__)

STATUS_NOTICE = "status_changed"


class Admission(Enum):
    SEND = "send"  # the head may be attempted now (counted in the recipient's window)
    WITHDRAWN = "withdrawn"  # the head is final without being sent (superseded or suppressed)
    STOPPED = "stopped"  # stopping cut the hold short; the head stays held for the next run


class RecipientGate:
    def __init__(
        self,
        limit: RecipientLimit,
        verdicts: VerdictWriter,
        journal: NotificationJournal,
        journal_written: Callable[[], None],
        wait_or_stop: Callable[[float], Awaitable[bool]],
    ) -> None:
        self._limit = limit
        self._verdicts = verdicts
        self._journal = journal
        self._journal_written = journal_written
        self._wait_or_stop = wait_or_stop

    async def admit(self, lane: Sequence[Delivery]) -> Admission:
        """Decide for `lane[0]`; later entries of the lane are read, never changed."""
        delivery = lane[0]
        key = recipient_key(delivery.channel, delivery.recipient)
        clock = asyncio.get_running_loop().time
        wait = self._limit.wait(key, clock())
        if wait == 0:
            self._limit.record(key, clock())
            return Admission.SEND
        if await self._superseded(delivery, lane):
            return Admission.WITHDRAWN
        if not self._limit.hold(key):
            await self._withdraw(delivery, DeliveryState.SUPPRESSED, self._suppressed())
            return Admission.WITHDRAWN
        try:
            await self._record_hold(delivery, wait)
            while True:
                if await self._wait_or_stop(wait):
                    return Admission.STOPPED
                # A status notice queued meanwhile goes in this one's place.
                if await self._superseded(delivery, lane):
                    return Admission.WITHDRAWN
                wait = self._limit.wait(key, clock())
                if wait == 0:
                    self._limit.record(key, clock())
                    return Admission.SEND
        finally:
            self._limit.release(key)

    async def _superseded(self, delivery: Delivery, lane: Sequence[Delivery]) -> bool:
        """Withdraw a status notice that must wait when a later one of its case is queued."""
        later = _later_status_notice(delivery, lane)
        if later is None:
            return False
        reason = (
            f"superseded by {later.notification_id}: a later status notice of the same case, "
            "while this one waited for the recipient limit"
        )
        await self._withdraw(delivery, DeliveryState.SUPERSEDED, reason, later.notification_id)
        return True

    def _window(self) -> str:
        return f"recipient limit of {self._limit.limit} notices per {self._limit.window_s:g} s"

    def _suppressed(self) -> str:
        return (
            f"suppressed: {self._window()} reached and {self._limit.hold_max} held already "
            "for this recipient"
        )

    async def _record_hold(self, delivery: Delivery, wait: float) -> None:
        now = datetime.now(UTC)
        due = now + timedelta(seconds=wait)
        reason = f"held: {self._window()} reached"
        entry = self._journal.decided(delivery, "Held", reason, due, now)
        await self._verdicts.record(_verdict(delivery, DeliveryState.HELD, due, entry, reason))
        self._journal_written()
        log.info(
            "delivery held by the recipient limit",
            extra={"notification_id": delivery.notification_id, "due_in_s": round(wait, 1)},
        )

    async def _withdraw(
        self, delivery: Delivery, state: DeliveryState, reason: str, by: str = ""
    ) -> None:
        now = datetime.now(UTC)
        decision = state.value.capitalize()
        entry = self._journal.decided(delivery, decision, reason, None, now, other=by)
        await self._verdicts.record(_verdict(delivery, state, now, entry, reason))
        self._journal_written()
        log.warning(
            "delivery not sent: %s",
            state.value,
            extra={"notification_id": delivery.notification_id, "case_id": delivery.case_id},
        )


def _verdict(
    delivery: Delivery, state: DeliveryState, at: datetime, entry: JournalEntry, reason: str
) -> Verdict:
    """A decision taken before an attempt: the delivery's counts stay as they are."""
    return Verdict(
        delivery,
        state,
        delivery.attempts,
        at,
        (entry,),
        reason,
        unknown_outcomes=delivery.unknown_outcomes,
    )


def _later_status_notice(delivery: Delivery, lane: Sequence[Delivery]) -> Delivery | None:
    """The next status notice queued behind a status notice `delivery` (the lane's head)."""
    # A social status notice exists only to post the answer or the question it carries: a
    # later one never says the same, so it replaces nothing.
    if delivery.message.kind != STATUS_NOTICE or delivery.channel is DeliveryChannel.SOCIAL:
        return None
    return next(
        (d for d in itertools.islice(lane, 1, None) if d.message.kind == STATUS_NOTICE), None
    )
