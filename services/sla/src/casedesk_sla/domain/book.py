"""The SLA book: every open clock of every case, driven by case facts and by the passing of time.

`apply` takes one case fact; `advance` lets time pass up to an instant and fires the warnings and
breaches that fell due before it. Both return the SLA facts they caused and record which cases
changed, so the caller can store the new state and the facts in one transaction.

Before a case fact is applied, that case's own alarms that fell due before the fact's time fire
first. So each case sees the same sequence whether time is advanced by the wall clock, by a
lagging consumer or by a replay: a met at 10:07 after a 10:05 due is late and preceded by its
breach, whichever happened to be processed first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from casedesk_sla.domain.alarms import AlarmKind, AlarmQueue
from casedesk_sla.domain.clocks import ClockKeeper
from casedesk_sla.domain.facts import (
    RESOLVING_STATUSES,
    WAITING_FOR_CITIZEN,
    CaseFact,
    CaseOpened,
    PublicReply,
    SlaFact,
    StatusChanged,
    TierChanged,
)
from casedesk_sla.domain.instants import Micros
from casedesk_sla.domain.policies import PolicyRegistry
from casedesk_sla.domain.table import TARGETS, ClockState, ClockTable, slot_of

FIRST_RESPONSE, RESOLUTION = TARGETS
_FINISHED = (ClockState.ABSENT, ClockState.MET)


@dataclass(frozen=True)
class Changes:
    """What changed since the last call to `take_changes`: case indices to store, ids to drop."""

    cases: list[int]
    retired: list[str]


class SlaBook:
    def __init__(
        self,
        policies: PolicyRegistry,
        is_retired: Callable[[str], bool] = lambda case_id: False,
        table: ClockTable | None = None,
    ) -> None:
        """`is_retired` tells whether a case unknown to the table once had clocks that all ended
        (their state is no longer kept in memory); a redelivered Created must not restart them."""
        self.table = table if table is not None else ClockTable()
        self.alarms = AlarmQueue()
        self.policies = policies
        self._keeper = ClockKeeper(self.table, self.alarms, policies)
        self._is_retired = is_retired
        self._dirty: set[int] = set()
        self._retired: list[str] = []
        self._retired_ids: set[str] = set()
        self.rebuild_alarms()

    def apply(self, fact: CaseFact) -> list[SlaFact]:
        out: list[SlaFact] = []
        table = self.table
        case = table.find(fact.case_id)
        if isinstance(fact, CaseOpened):
            if case is None and not self._was_retired(fact.case_id):
                self._open(fact, out)
            return out
        if case is None:
            return out
        if fact.case_version and fact.case_version <= table.case_version[case]:
            return out  # a redelivered or republished event: already applied
        self._keeper.catch_up(case, fact.at, out)
        table.case_version[case] = fact.case_version
        self._dirty.add(case)
        if isinstance(fact, StatusChanged):
            self._status_changed(case, fact, out)
        elif isinstance(fact, PublicReply):
            self._keeper.meet(slot_of(case, FIRST_RESPONSE), fact, out)
        elif isinstance(fact, TierChanged):
            table.set_tier(case, fact.tier)
        self._retire_if_finished(case)
        self._compact_alarms()
        return out

    def advance(self, until: Micros) -> list[SlaFact]:
        """Fire every alarm due strictly before `until`, earliest first."""
        out: list[SlaFact] = []
        keeper = self._keeper
        while (alarm := self.alarms.pop_before(until)) is not None:
            at, slot, kind = alarm
            if keeper.next_alarm(slot) == (at, kind):  # else stale: the clock moved on
                keeper.fire(slot, kind, out)
                self._dirty.add(slot >> 1)
        self._compact_alarms()
        return out

    def next_alarm_at(self) -> Micros | None:
        return self.alarms.next_at()

    def take_changes(self) -> Changes:
        changes = Changes(sorted(self._dirty), self._retired)
        self._dirty = set()
        self._retired = []
        self._retired_ids = set()
        return changes

    def rebuild_alarms(self) -> None:
        """Recompute the queue from the clocks (after loading them, or to drop stale alarms)."""
        self.alarms.rebuild(self._pending_alarms())

    def _compact_alarms(self) -> None:
        # Checked after `apply` too: a driver that never lets time pass (a replay judging each
        # case by its own events) would otherwise pile up every alarm ever scheduled.
        if len(self.alarms) > 4 * len(self.table) + 1024:
            self.rebuild_alarms()

    def _pending_alarms(self) -> Iterator[tuple[Micros, int, AlarmKind]]:
        for slot in self.table.slots():
            alarm = self._keeper.next_alarm(slot)
            if alarm is not None:
                yield alarm[0], slot, alarm[1]

    def _open(self, fact: CaseOpened, out: list[SlaFact]) -> None:
        policy = self.policies.current
        category = fact.category or None
        # Looked up before anything changes: an unknown channel raises and leaves no trace.
        targets = [
            (kind, policy.find_target(fact.channel, kind.value, category)) for kind in TARGETS
        ]
        case = self.table.add_case(
            fact.case_id,
            fact.channel,
            fact.tier,
            policy.version,
            fact.case_version,
            category=fact.category,
        )
        for kind, target in targets:
            if target is not None:
                self._keeper.start(slot_of(case, kind), target, fact, out)
        self._dirty.add(case)

    def _status_changed(self, case: int, fact: StatusChanged, out: list[SlaFact]) -> None:
        keeper = self._keeper
        if not fact.by_citizen:
            keeper.meet(slot_of(case, FIRST_RESPONSE), fact, out)
        if fact.to_status in RESOLVING_STATUSES:
            keeper.meet(slot_of(case, FIRST_RESPONSE), fact, out)
            keeper.meet(slot_of(case, RESOLUTION), fact, out)
        elif fact.to_status == WAITING_FOR_CITIZEN:
            for kind in TARGETS:
                keeper.pause(slot_of(case, kind), fact, out)
        elif fact.from_status == WAITING_FOR_CITIZEN:
            for kind in TARGETS:
                keeper.resume(slot_of(case, kind), fact, out)

    def _retire_if_finished(self, case: int) -> None:
        state = self.table.state
        if state[2 * case] in _FINISHED and state[2 * case + 1] in _FINISHED:
            self._dirty.discard(case)
            case_id = self.table.remove_case(case)
            self._retired.append(case_id)
            self._retired_ids.add(case_id)

    def _was_retired(self, case_id: str) -> bool:
        return case_id in self._retired_ids or self._is_retired(case_id)
