"""What other services said about cases: the SLA service's clocks and notify's notices.

The case service is where people read cases, but two parts of a case's story are not case events:
its SLA clocks (sla.events.v1) and the notices sent to the citizen (notification.events.v1). The
case timeline follows both topics into the case service's own database, so that
- the desk's queue is ordered by the deadline the SLA service actually runs (pauses while waiting
  for the citizen, escalations' new clocks and overrides included), not one recomputed beside it;
- the case page shows warnings, breaches and notices sent among the case's history;
- the supervisors' overview counts breaches and targets met per day.

It stores no personal data: notify's masked recipient at most.

`SLA_TABLE` is also read by the case index's deadline order (a join on case_id), so its name and
columns are part of this contract:

    case_sla(case_id TEXT PRIMARY KEY, target TEXT NOT NULL, state TEXT NOT NULL,
             due_us BIGINT NULL, started_us BIGINT NULL, updated_us BIGINT NOT NULL)

`state` holds a `ClockState` value; `due_us`/`started_us` are microseconds since the epoch (UTC),
as the case index's own times.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

SLA_TABLE = "case_sla"


class ClockState(Enum):
    """Where a case's current SLA clock stands (proto SlaState)."""

    NONE = "none"  # no clock runs: none started yet, met, or the case closed
    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"  # waiting for the citizen


@dataclass(frozen=True)
class SlaClock:
    """A case's current clock: of its targets not yet met (both start when the case opens), the
    one with the nearest deadline; NONE once every target is met or the case closed. A resumed
    clock's start moves with its deadline, so the share of the allowance left stays right."""

    case_id: str
    target: str  # FIRST_RESPONSE or RESOLUTION
    state: ClockState
    due_at: datetime | None
    started_at: datetime | None


@dataclass(frozen=True)
class SlaFact:
    event_id: str
    case_id: str
    at: datetime
    target: str
    kind: str  # started, paused, resumed, warning, breached, met
    due_at: datetime | None
    late: bool = False  # met: after the deadline


@dataclass(frozen=True)
class NotificationFact:
    notification_id: str
    case_id: str
    at: datetime
    channel: str  # SMS or EMAIL
    kind: str  # casedesk_vocabulary.notices.REPORTED: sent, failed, dead_lettered, held, ...
    recipient_masked: str
    template: str
    error: str = ""  # failed, dead_lettered: notify's words; a decision: its reason


@dataclass(frozen=True)
class DayCounts:
    """One Moscow day of SLA outcomes."""

    day: date
    met_on_time: int
    met_late: int
    breached: int


class CaseTimeline(ABC):
    """The store the timeline consumer writes and the case service's reads use."""

    @abstractmethod
    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        """The current clock of each of these cases that has one (absent: never spoken of)."""

    @abstractmethod
    def facts(self, case_id: str) -> tuple[Sequence[SlaFact], Sequence[NotificationFact]]:
        """Everything recorded about a case, oldest first."""

    @abstractmethod
    def breaches_since(self, since: datetime) -> int:
        """How many breaches fired at or after `since`."""

    @abstractmethod
    def days(self, first: date, last: date) -> list[DayCounts]:
        """One entry per Moscow day from `first` to `last` inclusive (zeros where nothing)."""
