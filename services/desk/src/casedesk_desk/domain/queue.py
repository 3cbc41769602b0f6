"""The queue's order and the time-left line: nearest deadline first, warning and breach marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

# Share of the whole allowance still left under which a case is highlighted as a warning.
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


class Urgency(Enum):
    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"
    NONE = "none"  # closed or answered: no clock runs


@dataclass(frozen=True)
class QueueRow:
    case_id: str
    number: str
    subject: str
    status: str  # vocabulary Status name
    channel: str
    queue: str
    tier: str
    assignee: str
    registered_at: datetime
    due: datetime | None


@dataclass(frozen=True)
class TimeLeft:
    text: str
    urgency: Urgency


def by_deadline(rows: list[QueueRow]) -> list[QueueRow]:
    """Nearest deadline first; rows without one last, oldest registration first among equals."""
    far = datetime.max.replace(tzinfo=None)
    return sorted(
        rows,
        key=lambda r: (
            r.due is None,
            r.due.replace(tzinfo=None) - (r.due.utcoffset() or timedelta()) if r.due else far,
            r.registered_at,
        ),
    )


def time_left(registered_at: datetime, due: datetime | None, now: datetime) -> TimeLeft:
    if due is None:
        return TimeLeft("—", Urgency.NONE)
    left = due - now
    if left <= timedelta():
        return TimeLeft(f"просрочено на {duration(-left)}", Urgency.BREACH)
    allowance = due - registered_at
    warning = allowance > timedelta() and left < allowance * WARNING_SHARE
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
