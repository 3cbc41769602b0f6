"""The queue's rows, the time-left line from the SLA service's clock, and the rows' order.

The case service orders a queue by the deadline of each case's running SLA clock (as the SLA
service keeps it: pauses while waiting for the citizen, escalations' new clocks and overrides
included) and says where the clock stands. The desk shows that; it computes no deadline of its
own (a policy-computed guess would contradict the row's place and the SLA service's warnings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from casedesk_vocabulary.moscow import to_micros

# Share of the clock's allowance still left under which a case is highlighted as a warning,
# also before the SLA service's own warning has arrived.
WARNING_SHARE = 0.2


class QueueView(Enum):
    MINE = "mine"  # assigned to me
    TIER = "tier"  # open cases of my tier
    UNASSIGNED = "unassigned"  # open cases nobody holds


QUEUE_VIEW_LABELS = {
    QueueView.MINE: "Мои обращения",
    QueueView.TIER: "Очередь моей линии",
    QueueView.UNASSIGNED: "Не назначенные",
}


class SlaState(Enum):
    """Where a case's SLA clock stands, as the SLA service last said."""

    NONE = "none"  # no clock runs: none started yet, met, or the case closed
    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"  # waiting for the citizen


# The states whose deadline orders the queue, as the case service orders it: a paused clock keeps
# its place by its last deadline.
DEADLINE_STATES = frozenset(
    {SlaState.RUNNING, SlaState.WARNING, SlaState.BREACHED, SlaState.PAUSED}
)


@dataclass(frozen=True)
class Clock:
    state: SlaState
    target: str = ""  # FIRST_RESPONSE or RESOLUTION
    due: datetime | None = None
    started: datetime | None = None


NO_CLOCK = Clock(SlaState.NONE)


class Urgency(Enum):
    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"
    PAUSED = "paused"
    NONE = "none"  # no clock runs


@dataclass(frozen=True)
class QueueRow:
    case_id: str
    number: str
    subject: str
    status: str  # vocabulary Status name
    channel: str
    category: str
    queue: str
    tier: str
    assignee: str
    registered_at: datetime
    updated_at: datetime
    version: int
    clock: Clock = NO_CLOCK
    # A PHONE case that owes the citizen a callback: by when (unset: none owed), and what for
    # (FIRST_RESPONSE, ANSWER, ESCALATION; empty when the case service does not say).
    callback_due: datetime | None = None
    callback_purpose: str = ""


@dataclass(frozen=True)
class TimeLeft:
    text: str
    urgency: Urgency


def time_left(clock: Clock, now: datetime) -> TimeLeft:
    if clock.state is SlaState.NONE or clock.due is None:
        return TimeLeft("срок не идёт", Urgency.NONE)
    if clock.state is SlaState.PAUSED:
        return TimeLeft("срок приостановлен: ждём гражданина", Urgency.PAUSED)
    left = clock.due - now
    if left <= timedelta():
        return TimeLeft(f"просрочено на {duration(-left)}", Urgency.BREACH)
    if clock.state is SlaState.BREACHED:  # the SLA service's word wins over the desk's clock
        return TimeLeft("срок нарушен", Urgency.BREACH)
    warning = clock.state is SlaState.WARNING
    if clock.started is not None:
        allowance = clock.due - clock.started
        warning = warning or (allowance > timedelta() and left < allowance * WARNING_SHARE)
    return TimeLeft(f"осталось {duration(left)}", Urgency.WARNING if warning else Urgency.OK)


def duration(span: timedelta) -> str:
    """«2 д 3 ч», «3 ч 20 мин», «45 мин»: two units at most, a weak office screen is narrow."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} д {hours} ч"
    if hours:
        return f"{hours} ч {minutes} мин"
    return f"{minutes} мин"


def order_key(row: QueueRow) -> str:
    """The row's place in the case service's deadline order, as text that sorts the same way
    (the live queue inserts a row by it): clocks with a deadline by it, then the rest by
    registration."""
    registered = _micros(row.registered_at)
    if row.clock.state in DEADLINE_STATES and row.clock.due is not None:
        return f"0{_micros(row.clock.due):020d}{registered:020d}"
    return f"1{registered:020d}{0:020d}"


def _micros(moment: datetime) -> int:
    return max(0, to_micros(moment))
