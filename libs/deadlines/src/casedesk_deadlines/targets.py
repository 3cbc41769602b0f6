"""SLA targets and the countdowns that run them.

A target is an amount of some clock's time. For the "N working days" unit the amount is N days of
working time (00:00-24:00 of working days) counted from the end of the registration day, because
counting starts the day after registration; the rest of the registration day, if it is a working
day, is added on top. So the budget of "3 working days" registered on Friday 10:00 is 14 h
(Friday) + 72 h, it is due at 24:00 of the third working day, its warning fires once 80% of that
working time has passed, and a pause keeps the unspent working time for the resume. Counting whole
days would make a pause of one afternoon cost a whole day or nothing at all.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from casedesk_deadlines.calendar import ProductionCalendar
from casedesk_deadlines.clocks import Clock, WallClock
from casedesk_deadlines.moscow import MOSCOW, require_aware
from casedesk_vocabulary.enums import DeadlineTarget

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
_WALL_CLOCK = WallClock()


class Unit(StrEnum):
    WALL_CLOCK = "wall_clock"
    WORKING_DAY_HOURS = "working_day_hours"  # time runs 00:00-24:00 of working days only
    BUSINESS_HOURS = "business_hours"  # 09:00-18:00 of working days, 17:00 on pre-holiday days
    WORKING_DAYS = "working_days"  # due at 24:00 of the N-th working day after registration


# What a deadline is for: the vocabulary's DeadlineTarget, under the name this library has used.
TargetKind = DeadlineTarget


@dataclass(frozen=True)
class Target:
    unit: Unit
    amount: timedelta
    calendar: ProductionCalendar = field(repr=False, compare=False)
    warning_fraction: float = 0.8
    clock: Clock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.amount <= ZERO:
            raise ValueError(f"a target amount must be positive, got {self.amount}")
        if self.unit is Unit.WORKING_DAYS and self.amount % ONE_DAY:
            raise ValueError(f"a working-days target must be whole days, got {self.amount}")
        if not 0 < self.warning_fraction < 1:
            raise ValueError(f"warning_fraction must be in (0, 1), got {self.warning_fraction}")
        clock = {
            Unit.WALL_CLOCK: _WALL_CLOCK,
            Unit.WORKING_DAY_HOURS: self.calendar.working_time,
            Unit.BUSINESS_HOURS: self.calendar.business_hours,
            Unit.WORKING_DAYS: self.calendar.working_time,
        }[self.unit]
        object.__setattr__(self, "clock", clock)

    def budget(self, start: datetime) -> timedelta:
        """The clock time this target allows when it starts at ``start``."""
        if self.unit is not Unit.WORKING_DAYS:
            return self.amount
        return self.calendar.working_time.left_today(start) + self.amount

    def start(self, start: datetime) -> "Countdown":
        require_aware(start, "start")
        budget = self.budget(start)
        return Countdown(self, budget, budget, start.astimezone(MOSCOW))

    def due(self, start: datetime) -> datetime:
        return self.clock.add(start, self.budget(start))

    def warn_at(self, start: datetime) -> datetime:
        return self.clock.add(start, self.budget(start) * self.warning_fraction)

    def remaining(self, start: datetime, paused_at: datetime) -> timedelta:
        """Clock time left when a countdown started at ``start`` pauses at ``paused_at``."""
        return self.start(start).pause(paused_at).remaining

    def resume(self, remaining: timedelta, resumed_at: datetime) -> datetime:
        """The new due instant when a paused countdown with ``remaining`` time resumes."""
        return self.clock.add(resumed_at, remaining)


@dataclass(frozen=True, slots=True)
class Countdown:
    """One target running for one case: immutable, each pause or resume returns a new value.

    ``remaining`` is the clock time left as of ``running_since`` (or as of the pause, when
    ``running_since`` is None).
    """

    target: Target
    budget: timedelta
    remaining: timedelta
    running_since: datetime | None

    @property
    def paused(self) -> bool:
        return self.running_since is None

    def due(self) -> datetime | None:
        """When the countdown reaches zero; None while paused."""
        if self.running_since is None:
            return None
        return self.target.clock.add(self.running_since, self.remaining)

    def warn_at(self) -> datetime | None:
        """When the warning fraction of the budget is spent.

        None while paused, or when the threshold was already crossed before this run started.
        """
        if self.running_since is None:
            return None
        left_at_warning = self.budget - self.budget * self.target.warning_fraction
        if self.remaining < left_at_warning:
            return None
        return self.target.clock.add(self.running_since, self.remaining - left_at_warning)

    def remaining_at(self, at: datetime) -> timedelta:
        """Clock time left at ``at``; never negative (an overdue countdown has nothing left)."""
        if self.running_since is None:
            return self.remaining
        # An instant before the run started (clock skew between producers) spends nothing.
        spent = max(self.target.clock.measure(self.running_since, at), ZERO)
        return max(self.remaining - spent, ZERO)

    def elapsed_fraction(self, at: datetime) -> float:
        return 1 - self.remaining_at(at) / self.budget

    def pause(self, at: datetime) -> "Countdown":
        if self.running_since is None:
            return self
        return Countdown(self.target, self.budget, self.remaining_at(at), None)

    def resume(self, at: datetime) -> "Countdown":
        if self.running_since is not None:
            return self
        require_aware(at, "resumed_at")
        return Countdown(self.target, self.budget, self.remaining, at.astimezone(MOSCOW))
