"""SLA deadline arithmetic for Casedesk, shared by the SLA service, intake and notify.

Moscow time on the Russian production calendar; units: wall clock, hours counted on working
days, business hours and N working days; versioned channel policies shipped as TOML files.

    deadlines = Deadlines()  # default policy, calendar without overrides
    deadlines.compute("EMAIL", registered_at, category)  # CaseDeadlines(first_response_due=...)
    target = deadlines.policy.target("SOCIAL", "FIRST_RESPONSE")
    target.due(start), target.warn_at(start)
"""

from casedesk_deadlines.calendar import ProductionCalendar, russian_calendar
from casedesk_deadlines.catalogue import (
    DEFAULT_POLICY_VERSION,
    default_policy,
    load_policy,
    policy_versions,
)
from casedesk_deadlines.clocks import Clock, WallClock, WindowClock
from casedesk_deadlines.deadlines import CaseDeadlines, Deadlines
from casedesk_deadlines.errors import (
    CalendarOverrideError,
    DeadlineError,
    NaiveDatetimeError,
    NoTargetError,
    PolicyFormatError,
    UnknownCalendarError,
    UnknownChannelError,
    UnknownPolicyError,
)
from casedesk_deadlines.moscow import MOSCOW
from casedesk_deadlines.overrides import CalendarOverrides
from casedesk_deadlines.policy import Policy, parse_policy
from casedesk_deadlines.russia import DayKind
from casedesk_deadlines.targets import Countdown, Target, TargetKind, Unit

__all__ = [
    "DEFAULT_POLICY_VERSION",
    "MOSCOW",
    "CalendarOverrideError",
    "CalendarOverrides",
    "CaseDeadlines",
    "Clock",
    "Countdown",
    "DayKind",
    "DeadlineError",
    "Deadlines",
    "NaiveDatetimeError",
    "NoTargetError",
    "Policy",
    "PolicyFormatError",
    "ProductionCalendar",
    "Target",
    "TargetKind",
    "Unit",
    "UnknownCalendarError",
    "UnknownChannelError",
    "UnknownPolicyError",
    "WallClock",
    "WindowClock",
    "default_policy",
    "load_policy",
    "parse_policy",
    "policy_versions",
    "russian_calendar",
]
