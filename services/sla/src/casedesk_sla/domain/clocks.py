"""The rules of one SLA clock: start, pause, resume, meet, warn and breach.

A clock is a countdown of the deadline library (budget, time remaining, running since) kept in
the table's columns; every calendar computation is the library's. What this module adds is the
life of the clock: which transition is allowed when, which alarm is pending, and which SLA fact
each transition records.
"""

from __future__ import annotations

from casedesk_deadlines import Countdown, Target
from casedesk_sla.domain import trace_context
from casedesk_sla.domain.alarms import AlarmKind, AlarmQueue
from casedesk_sla.domain.facts import CaseFact, SlaFact, SlaKind
from casedesk_sla.domain.identity import fact_id, schedule_id
from casedesk_sla.domain.instants import (
    Micros,
    duration_micros,
    from_micros,
    micros_duration,
    to_micros,
)
from casedesk_sla.domain.policies import PolicyRegistry
from casedesk_sla.domain.table import BREACHED, WARNED, ClockState, ClockTable, target_of
from casedesk_vocabulary.enums import DeadlineTarget

Alarm = tuple[Micros, AlarmKind]


class ClockKeeper:
    def __init__(self, table: ClockTable, alarms: AlarmQueue, policies: PolicyRegistry) -> None:
        self._table = table
        self._alarms = alarms
        self._policies = policies

    def start(self, slot: int, target: Target, cause: CaseFact, out: list[SlaFact]) -> None:
        self._run(slot, target.start(from_micros(cause.at)))
        self._keep_cause(slot, cause)
        out.append(self._fact(SlaKind.STARTED, slot, cause.at, cause, warn_at=self._warn(slot)))

    def pause(self, slot: int, cause: CaseFact, out: list[SlaFact]) -> None:
        table = self._table
        # A breached clock has nothing left to count; it only waits to be met (late).
        if table.state[slot] != ClockState.RUNNING or table.flags[slot] & BREACHED:
            return
        paused = self._countdown(slot).pause(from_micros(cause.at))
        table.remaining[slot] = duration_micros(paused.remaining)
        table.set_state(slot, ClockState.PAUSED)
        table.run[slot] += 1
        out.append(
            self._fact(SlaKind.PAUSED, slot, cause.at, cause, remaining=table.remaining[slot])
        )

    def resume(self, slot: int, cause: CaseFact, out: list[SlaFact]) -> None:
        if self._table.state[slot] != ClockState.PAUSED:
            return
        self._run(slot, self._countdown(slot).resume(from_micros(cause.at)))
        self._keep_cause(slot, cause)
        out.append(self._fact(SlaKind.RESUMED, slot, cause.at, cause, warn_at=self._warn(slot)))

    def meet(self, slot: int, cause: CaseFact, out: list[SlaFact]) -> None:
        table = self._table
        if table.state[slot] not in (ClockState.RUNNING, ClockState.PAUSED):
            return
        table.set_state(slot, ClockState.MET)
        # Alarms before `cause.at` have fired already (catch_up), so the flag is the whole truth.
        late = bool(table.flags[slot] & BREACHED)
        out.append(self._fact(SlaKind.MET, slot, cause.at, cause, late=late))

    def next_alarm(self, slot: int) -> Alarm | None:
        table = self._table
        if table.state[slot] != ClockState.RUNNING:
            return None
        flags = table.flags[slot]
        if not flags & WARNED and table.warn[slot]:
            return table.warn[slot], AlarmKind.WARNING
        if not flags & BREACHED:
            return table.due[slot], AlarmKind.BREACH
        return None

    def fire(self, slot: int, kind: AlarmKind, out: list[SlaFact]) -> None:
        table = self._table
        # Both carry the case's tier when they fired (a breach's goes on the wire, a warning's
        # only into the service's measurements).
        tier = table.tier_of(slot >> 1)
        if kind is AlarmKind.WARNING:
            table.flags[slot] |= WARNED
            fraction = self._target(slot).warning_fraction
            out.append(
                self._fact(SlaKind.WARNING, slot, table.warn[slot], tier=tier, elapsed=fraction)
            )
        else:
            table.flags[slot] |= BREACHED
            out.append(self._fact(SlaKind.BREACHED, slot, table.due[slot], tier=tier))
        self._schedule(slot)

    def catch_up(self, case: int, until: Micros, out: list[SlaFact]) -> None:
        """Fire the case's own alarms due before `until`, in the order the queue would."""
        while True:
            pending = [
                (alarm[0], slot, alarm[1])
                for slot in (2 * case, 2 * case + 1)
                if (alarm := self.next_alarm(slot)) is not None and alarm[0] < until
            ]
            if not pending:
                return
            _, slot, kind = min(pending)
            self.fire(slot, kind, out)

    def _run(self, slot: int, countdown: Countdown) -> None:
        table = self._table
        assert countdown.running_since is not None
        due, warn = countdown.due(), countdown.warn_at()
        assert due is not None
        table.set_state(slot, ClockState.RUNNING)
        table.budget[slot] = duration_micros(countdown.budget)
        table.remaining[slot] = duration_micros(countdown.remaining)
        table.since[slot] = to_micros(countdown.running_since)
        table.due[slot] = to_micros(due)
        table.warn[slot] = 0 if warn is None or table.flags[slot] & WARNED else to_micros(warn)
        self._schedule(slot)

    def _keep_cause(self, slot: int, cause: CaseFact) -> None:
        """Keep what the alarms this start or resume schedules carry on from their cause."""
        case = slot >> 1
        # An event without a trace context or correlation id leaves the one kept: the alarm stays
        # in the case's trace and request rather than belonging to none.
        packed = trace_context.pack(cause.traceparent)
        if packed != trace_context.NONE:
            self._table.set_packed_trace(case, packed)
        if cause.correlation_id:
            self._table.correlation[case] = cause.correlation_id

    def _schedule(self, slot: int) -> None:
        alarm = self.next_alarm(slot)
        if alarm is not None:
            self._alarms.push(alarm[0], slot, alarm[1])

    def _warn(self, slot: int) -> Micros | None:
        return self._table.warn[slot] or None

    def _countdown(self, slot: int) -> Countdown:
        table = self._table
        running = table.state[slot] == ClockState.RUNNING
        return Countdown(
            self._target(slot),
            micros_duration(table.budget[slot]),
            micros_duration(table.remaining[slot]),
            from_micros(table.since[slot]) if running else None,
        )

    def _target(self, slot: int) -> Target:
        case = slot >> 1
        table = self._table
        return self._policies.target(
            table.policy_of(case), table.channel_of(case), table.category_of(case), target_of(slot)
        )

    def _fact(
        self,
        kind: SlaKind,
        slot: int,
        at: Micros,
        cause: CaseFact | None = None,
        warn_at: Micros | None = None,
        remaining: Micros | None = None,
        tier: str = "",
        late: bool = False,
        elapsed: float = 0.0,
    ) -> SlaFact:
        table = self._table
        case = slot >> 1
        case_id = table.case_ids[case]
        assert case_id is not None
        target: DeadlineTarget = target_of(slot)
        policy = self._policies.get(table.policy_of(case))
        due, run = table.due[slot], table.run[slot]
        return SlaFact(
            kind=kind,
            case_id=case_id,
            case_version=table.case_version[case],
            target=target,
            channel=table.channel_of(case),
            policy_version=policy.version,
            calendar_version=policy.calendar_version,
            due=due,
            at=at,
            run=run,
            event_id=fact_id(case_id, target, kind, due, run),
            # A timer fact is caused by the start or resume that set its due instant.
            causation_id=cause.event_id if cause else schedule_id(case_id, target, due, run),
            correlation_id=cause.correlation_id if cause else table.correlation[case],
            traceparent=cause.traceparent if cause else table.traceparent_of(case),
            warn_at=warn_at,
            remaining=remaining,
            tier=tier,
            late=late,
            elapsed_fraction=elapsed,
        )
