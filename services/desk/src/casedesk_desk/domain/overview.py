"""The supervisors' overview: workload, breaches and SLA compliance per day, and the compliance
chart's geometry (the page draws it as inline SVG: no script, readable by the table beside it).

Compliance of a day is the share of SLA targets met that day that were met in time:
on time / (on time + late). Breaches that fired that day are counted apart: a target that was
breached and later met is one breach on its day and one late target on the day it was met.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class QueueLoad:
    tier: str
    queue: str
    open: int
    unassigned: int
    breached: int


@dataclass(frozen=True)
class SpecialistLoad:
    specialist_id: str
    open: int
    waiting_for_citizen: int


@dataclass(frozen=True)
class DayCompliance:
    day: date
    met_on_time: int
    met_late: int
    breached: int

    @property
    def met(self) -> int:
        return self.met_on_time + self.met_late

    @property
    def share(self) -> float | None:
        """On time among the targets met; None on a day without any."""
        return self.met_on_time / self.met if self.met else None


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    queues: list[QueueLoad]
    specialists: list[SpecialistLoad]
    breaches_today: int
    days: list[DayCompliance]

    def tier_totals(self) -> list[QueueLoad]:
        """One line per tier, its queues added up (queue: empty)."""
        totals: dict[str, QueueLoad] = {}
        for load in self.queues:
            was = totals.get(load.tier, QueueLoad(load.tier, "", 0, 0, 0))
            totals[load.tier] = QueueLoad(
                load.tier,
                "",
                was.open + load.open,
                was.unassigned + load.unassigned,
                was.breached + load.breached,
            )
        return [totals[tier] for tier in sorted(totals)]

    def window_share(self) -> float | None:
        met = sum(day.met for day in self.days)
        return sum(day.met_on_time for day in self.days) / met if met else None


def percent(share: float | None) -> str:
    return "нет данных" if share is None else f"{round(share * 100)} %"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # on-time, late, breached


@dataclass(frozen=True)
class ChartDay:
    label: str  # «05.03»
    label_x: float
    share_text: str
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    top: float
    scale_max: int
    days: list[ChartDay]


CHART_WIDTH, CHART_HEIGHT = 720, 260
_TOP, _BOTTOM, _LEFT = 28.0, 40.0, 36.0


def compliance_chart(days: list[DayCompliance]) -> Chart:
    """Per day a stacked bar of targets met (on time below, late above) and beside it a bar of
    breaches, on one count scale; the day's compliance written above."""
    baseline = CHART_HEIGHT - _BOTTOM
    scale_max = max([1, *(max(day.met, day.breached) for day in days)])
    per_unit = (baseline - _TOP) / scale_max
    slot = (CHART_WIDTH - _LEFT) / max(1, len(days))
    bar_width = slot * 0.36
    drawn = []
    for n, day in enumerate(days):
        left = _LEFT + n * slot + slot * 0.1
        on_time_h, late_h = day.met_on_time * per_unit, day.met_late * per_unit
        bars = [
            Bar(left, baseline - on_time_h, bar_width, on_time_h, "on-time"),
            Bar(left, baseline - on_time_h - late_h, bar_width, late_h, "late"),
            Bar(
                left + bar_width,
                baseline - day.breached * per_unit,
                bar_width,
                day.breached * per_unit,
                "breached",
            ),
        ]
        drawn.append(
            ChartDay(
                label=day.day.strftime("%d.%m"),
                label_x=left + bar_width,
                share_text="—" if day.share is None else f"{round(day.share * 100)}%",
                bars=[bar for bar in bars if bar.height > 0],
            )
        )
    return Chart(CHART_WIDTH, CHART_HEIGHT, baseline, _TOP, scale_max, drawn)
