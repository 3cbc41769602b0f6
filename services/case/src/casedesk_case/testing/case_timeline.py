"""SLA clocks and timeline facts a test sets directly, where the case service reads them.

The case index reads clocks from the `case_sla` table next to it (SQLite, PostgreSQL) or, in
memory, from a `CaseTimeline`; `FixedClocks(app)` writes them to whichever the application's index
reads, as the case timeline's consumer would (application/timeline.py is the contract), so the
index's tests need no consumer. `FixedCaseTimeline` is a `CaseTimeline` whose clocks, facts and
day counts are what the test put in it: the answers GetCaseTimeline and GetDeskOverview pass on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from casedesk_case.adapters.readmodel.memory import InMemoryCaseIndex
from casedesk_case.adapters.readmodel.sql import SqlCaseIndex
from casedesk_case.application import CaseApplication
from casedesk_case.application.timeline import (
    CaseTimeline,
    ClockState,
    DayCounts,
    NotificationFact,
    SlaClock,
    SlaFact,
)
from casedesk_vocabulary.moscow import to_micros


class FixedCaseTimeline(CaseTimeline):
    def __init__(self) -> None:
        self.clock_of: dict[str, SlaClock] = {}
        self.sla: list[SlaFact] = []
        self.notifications: list[NotificationFact] = []
        self.day_counts: dict[date, DayCounts] = {}
        self.asked_days: list[tuple[date, date]] = []

    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        return {c: self.clock_of[c] for c in case_ids if c in self.clock_of}

    def facts(self, case_id: str) -> tuple[Sequence[SlaFact], Sequence[NotificationFact]]:
        return (
            sorted((f for f in self.sla if f.case_id == case_id), key=lambda f: f.at),
            sorted((n for n in self.notifications if n.case_id == case_id), key=lambda n: n.at),
        )

    def breaches_since(self, since: datetime) -> int:
        return sum(1 for f in self.sla if f.kind == "breached" and f.at >= since)

    def days(self, first: date, last: date) -> list[DayCounts]:
        self.asked_days.append((first, last))
        span = (last - first).days + 1
        days = (first + timedelta(days=n) for n in range(span))
        return [self.day_counts.get(day) or DayCounts(day, 0, 0, 0) for day in days]


class FixedClocks:
    """Sets cases' current clocks where `app`'s case index reads them."""

    def __init__(self, app: CaseApplication, timeline: FixedCaseTimeline | None = None) -> None:
        self._index = app.index
        self.timeline = timeline or FixedCaseTimeline()
        if isinstance(self._index, InMemoryCaseIndex):
            self._index.read_clocks_from(self.timeline)

    def set(
        self,
        case_id: str,
        state: ClockState,
        due_at: datetime | None = None,
        *,
        target: str = "RESOLUTION",
        started_at: datetime | None = None,
    ) -> SlaClock:
        started = started_at or (due_at - timedelta(hours=2) if due_at else None)
        clock = SlaClock(case_id, target, state, due_at, started)
        self.timeline.clock_of[case_id] = clock
        if isinstance(self._index, SqlCaseIndex):
            self._write(clock)
        return clock

    def _write(self, clock: SlaClock) -> None:
        index = self._index
        assert isinstance(index, SqlCaseIndex)
        statement = (
            f"INSERT INTO {index.sla_table} "
            "(case_id, target, state, due_us, started_us, updated_us) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (case_id) DO UPDATE SET target = excluded.target, "
            "state = excluded.state, due_us = excluded.due_us, "
            "started_us = excluded.started_us, updated_us = excluded.updated_us"
        )
        micros = [to_micros(t) if t else None for t in (clock.due_at, clock.started_at)]
        now = to_micros(datetime.now().astimezone())
        with index.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                statement.replace("?", index.placeholder),
                [clock.case_id, clock.target, clock.state.value, *micros, now],
            )
