"""SLA outcomes per Moscow day: met on time, met late, breached.

A target met counts on the day it was met, a breach on the day it fired (its deadline). The SQL
stores count per UTC hour in the database and put the hours into Moscow days here: exact, since
Moscow's offset from UTC has been a whole number of hours for the last century, and a 90-day
window is at most 2,160 hours whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from casedesk_case.application.timeline import DayCounts
from casedesk_vocabulary.moscow import MOSCOW, Micros, from_micros, in_moscow, to_micros

HOUR_US = 3_600_000_000
# The facts the compliance counts are made of.
COUNTED_KINDS = ("met", "breached")


def window(first: date, last: date) -> tuple[Micros, Micros]:
    """From Moscow's midnight opening `first` to the one closing `last`, as stored instants."""
    return _midnight(first), _midnight(last + timedelta(days=1))


def moscow_day(moment: datetime) -> date:
    return in_moscow(moment).date()


def hour_day(hour: int) -> date:
    """The Moscow day of the UTC hour numbered `hour` since the epoch."""
    return moscow_day(from_micros(hour * HOUR_US))


def tally(
    first: date, last: date, outcomes: Iterable[tuple[date, str, bool, int]]
) -> list[DayCounts]:
    """One DayCounts per day from `first` to `last`, of (day, kind, late, count) outcomes."""
    counts: dict[date, list[int]] = {}
    for day, kind, late, count in outcomes:
        slot = counts.setdefault(day, [0, 0, 0])
        if kind == "breached":
            slot[2] += count
        elif kind == "met":
            slot[1 if late else 0] += count
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [DayCounts(day, *counts.get(day, (0, 0, 0))) for day in days]


def _midnight(day: date) -> Micros:
    return to_micros(datetime.combine(day, time(), tzinfo=MOSCOW))
