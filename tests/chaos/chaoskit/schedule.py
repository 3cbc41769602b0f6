"""The faults of a chaos run, in order, and how hard the load pushes meanwhile.

`FULL` is `make chaos`: every service killed alone, then in pairs, the broker leading
case.events.v1 partitions killed twice, a PostgreSQL restart, every broker away for five
minutes, the SMTP server refusing for a minute. `SHORT` (the integration suite) has one fault
of each kind with short outages; its single and paired kills still take each service down once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    KILL_SERVICES = "kill -9"
    KILL_CASE_LEADER = "kill -9 of the broker leading case.events.v1"
    RESTART_POSTGRES = "PostgreSQL restart"
    STOP_BROKERS = "every broker stopped"
    REFUSE_SMTP = "SMTP server refusing"


@dataclass(frozen=True)
class Fault:
    kind: Kind
    down_s: float = 0.0  # how long the thing stays away (a restart's own time not counted)
    services: tuple[str, ...] = ()  # KILL_SERVICES: killed together

    @property
    def name(self) -> str:
        if self.kind is Kind.KILL_SERVICES:
            return f"kill -9 {'+'.join(self.services)}"
        if self.down_s:
            return f"{self.kind.value} for {self.down_s:g} s"
        return self.kind.value


@dataclass(frozen=True)
class Schedule:
    name: str
    faults: tuple[Fault, ...]
    cases_per_s: float  # new cases through intake, each taken through its lifecycle
    warm_up_s: float  # steady load before the first fault
    between_s: float  # steady load after a fault has recovered, before the next
    recovery_timeout_s: float  # a fault not recovered by then is reported as such
    settle_timeout_s: float  # after the load stops, for every notice and breach to arrive


def _kill(*services: str, down_s: float) -> Fault:
    return Fault(Kind.KILL_SERVICES, down_s, services)


SHORT = Schedule(
    name="short",
    faults=(
        _kill("case", down_s=2),
        _kill("intake", "notify", down_s=2),
        _kill("sla", "escalation", down_s=2),
        Fault(Kind.KILL_CASE_LEADER, down_s=10),
        Fault(Kind.RESTART_POSTGRES),
        Fault(Kind.STOP_BROKERS, down_s=20),
        Fault(Kind.REFUSE_SMTP, down_s=15),
    ),
    cases_per_s=1.2,
    warm_up_s=10,
    between_s=2,
    recovery_timeout_s=240,
    settle_timeout_s=240,
)

FULL = Schedule(
    name="full",
    faults=(
        *(_kill(name, down_s=5) for name in ("case", "intake", "sla", "escalation", "notify")),
        _kill("case", "notify", down_s=5),
        _kill("intake", "case", down_s=5),
        _kill("sla", "escalation", down_s=5),
        _kill("notify", "sla", down_s=5),
        _kill("escalation", "case", down_s=5),
        Fault(Kind.KILL_CASE_LEADER, down_s=30),
        Fault(Kind.RESTART_POSTGRES),
        Fault(Kind.KILL_CASE_LEADER, down_s=60),
        Fault(Kind.STOP_BROKERS, down_s=300),
        Fault(Kind.REFUSE_SMTP, down_s=60),
    ),
    cases_per_s=2.0,
    warm_up_s=20,
    between_s=15,
    recovery_timeout_s=600,
    settle_timeout_s=600,
)

SCHEDULES = {schedule.name: schedule for schedule in (SHORT, FULL)}
