"""«Перезвонить»: the PHONE cases that owe the citizen a callback, earliest due first.

The case service says which cases owe one and by when (`callback_due`: the 30-minute callback
that is a phone case's first response, the call that gives the answer, or one an escalation asked
for); the desk lists them, marks the overdue ones and keeps the list current from the queue's
stream: a case whose callback was recorded (or that no longer owes one) leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from casedesk_desk.domain.queue import QueueRow, TimeLeft, Urgency, duration
from casedesk_vocabulary.moscow import to_micros

# Under this much time left a callback is highlighted: the first-response callback has 30
# minutes in all, so a third of it.
CALLBACK_WARNING = timedelta(minutes=10)


@dataclass(frozen=True)
class CallbackList:
    """The callback tasks' page as a judge of the queue stream's changes (live_queue.RowJudge)."""

    def matches(self, row: QueueRow, username: str, tier: str | None) -> bool:
        """A case belongs while it owes a callback; the case service sends only cases the person
        may read, so tier and person need no check here."""
        return row.channel == "PHONE" and row.callback_due is not None


def callback_left(due: datetime | None, now: datetime) -> TimeLeft:
    """«осталось 12 мин», highlighted under CALLBACK_WARNING; «просрочено на 5 мин» once past."""
    if due is None:
        return TimeLeft("звонок не нужен", Urgency.NONE)
    left = due - now
    if left <= timedelta():
        return TimeLeft(f"просрочено на {duration(-left)}", Urgency.BREACH)
    urgency = Urgency.WARNING if left < CALLBACK_WARNING else Urgency.OK
    return TimeLeft(f"осталось {duration(left)}", urgency)


def callback_order_key(row: QueueRow) -> str:
    """The row's place in the list (earliest due first, then by registration), as text that
    sorts the same way: the live list inserts a row by it."""
    due = to_micros(row.callback_due) if row.callback_due is not None else 0
    return f"{max(0, due):020d}{max(0, to_micros(row.registered_at)):020d}"
