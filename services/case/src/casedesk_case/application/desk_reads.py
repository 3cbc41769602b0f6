"""The desk's reads that need the case timeline (application/timeline.py): a case's timeline
(what the SLA service and notify said about it) and the supervisors' overview of the desk.

A case's timeline is read as its history is: the same read rule, one journal record. The
overview holds counts only, no case and no citizen, so it is not journaled; it is the
supervisors' (domain/person_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from casedesk_case.application.person_reads import PersonReads, Reader
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.timeline import CaseTimeline, DayCounts
from casedesk_case.application.views import (
    CaseTimelineView,
    DeskLoad,
    DeskOverview,
    QueueLoad,
    SpecialistLoad,
)
from casedesk_case.domain.assignment import Roster
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.person_rules import Person, check_may_oversee
from casedesk_vocabulary.moscow import MOSCOW, in_moscow

DEFAULT_DAYS = 14
MAX_DAYS = 90


class DeskReads:
    def __init__(
        self,
        reads: PersonReads,
        index: CaseIndex,
        roster: Roster,
        timeline: CaseTimeline,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reads = reads
        self._index = index
        self._roster = roster
        self._timeline = timeline
        self._clock = clock

    def case_timeline(self, reader: Reader, case_id: str) -> CaseTimelineView:
        self._reads.check_reads(reader, case_id)
        sla, notifications = self._timeline.facts(case_id)
        self._reads.record(reader, "GetCaseTimeline", [case_id])
        return CaseTimelineView(list(sla), list(notifications))

    def overview(self, person: Person, days: int = 0) -> DeskOverview:
        """Open work now, breaches since Moscow midnight, and `days` days of SLA outcomes
        ending today (0: DEFAULT_DAYS)."""
        check_may_oversee(person)
        days = days or DEFAULT_DAYS
        if not 1 <= days <= MAX_DAYS:
            raise InvalidCommand("days", f"must be 1 to {MAX_DAYS} (0 or unset: {DEFAULT_DAYS})")
        now = self._clock()
        today = in_moscow(now).date()
        roster_ids = frozenset(s.id for s in self._roster.specialists)
        load = self._with_idle(self._index.desk_load(roster_ids))
        midnight = datetime.combine(today, time(), tzinfo=MOSCOW)
        return DeskOverview(
            as_of=now,
            load=load,
            breaches_today=self._timeline.breaches_since(midnight),
            compliance=self._compliance(today - timedelta(days=days - 1), today),
        )

    def _compliance(self, first: date, last: date) -> list[DayCounts]:
        # One entry per day whatever the store returns: a chart's axis must not skip a day.
        found = {d.day: d for d in self._timeline.days(first, last)}
        span = (last - first).days + 1
        every_day = (first + timedelta(days=n) for n in range(span))
        return [found.get(day) or DayCounts(day, 0, 0, 0) for day in every_day]

    def _with_idle(self, load: DeskLoad) -> DeskLoad:
        """The roster's queues and active specialists without open work too: an empty queue
        and an idle specialist are what a supervisor looks for when moving work."""
        queues = {(q.tier, q.queue): q for q in load.queues}
        for tier, routes in self._roster.routes.items():
            for queue in set(routes.values()):
                queues.setdefault((tier, queue), QueueLoad(tier, queue, 0, 0, 0))
        busy = {s.specialist_id for s in load.specialists}
        idle = sorted(s.id for s in self._roster.specialists if s.active and s.id not in busy)
        return DeskLoad(
            sorted(queues.values(), key=lambda q: (q.tier.rank, q.queue)),
            [*load.specialists, *(SpecialistLoad(i, 0, 0) for i in idle)],
        )
