"""A case's current SLA clock, computed from every SLA fact recorded about it.

The clock is a fold of the facts in the order they happened (their instant, then the order the
SLA service produces them in at one instant), never in the order they arrived. So a fact that
arrives late, or twice, leaves the same clock as if it had arrived in time and once: every store
recomputes the clocks of the cases a batch touched from their whole recorded set.

Each target (FIRST_RESPONSE, RESOLUTION) has its own clock: started/resumed run it (due and start
from the fact), warning and breached mark it, paused keeps its due, met ends it (a later start of
the same target runs it again; a clock warned before a pause is still warned after it). Both
targets start when a case is opened, so the case's current clock is the open one with the nearest
deadline: the first response while it is owed, then the resolution. With no open target the
clock is NONE, naming the target met last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from casedesk_case.application.timeline import ClockState, SlaClock, SlaFact

# At one instant the SLA service records a start before an alarm and an alarm before a pause or a
# meeting of the target (book.py: a case's alarms due before a case event fire first).
KIND_ORDER = {"started": 0, "resumed": 1, "warning": 2, "breached": 3, "paused": 4, "met": 5}
TARGET_ORDER = {"FIRST_RESPONSE": 0, "RESOLUTION": 1}
_NEVER = datetime.max.replace(tzinfo=UTC)
_STATE_OF = {
    "started": ClockState.RUNNING,
    "resumed": ClockState.RUNNING,
    "warning": ClockState.WARNING,
    "breached": ClockState.BREACHED,
    "paused": ClockState.PAUSED,
    "met": ClockState.NONE,
}


def fact_order(fact: SlaFact) -> tuple[datetime, int, int, str]:
    return (
        fact.at,
        KIND_ORDER.get(fact.kind, len(KIND_ORDER)),
        TARGET_ORDER.get(fact.target, len(TARGET_ORDER)),
        fact.event_id,
    )


@dataclass(frozen=True)
class CaseClock:
    """The clock and the instant of the latest fact that shaped it (`case_sla.updated_us`)."""

    clock: SlaClock
    updated_at: datetime


def current_clock(facts: Iterable[SlaFact]) -> CaseClock | None:
    """The clock of one case's facts; None without any."""
    targets: dict[str, SlaClock] = {}
    warned: set[str] = set()
    last: SlaFact | None = None
    for fact in sorted(facts, key=fact_order):
        if fact.kind == "started":
            warned.discard(fact.target)
        elif fact.kind == "warning":
            warned.add(fact.target)
        targets[fact.target] = _next(targets.get(fact.target), fact, fact.target in warned)
        last = fact
    if last is None:
        return None
    open_clocks = [c for c in targets.values() if c.state is not ClockState.NONE]
    if open_clocks:
        clock = min(open_clocks, key=_urgency)
    else:
        clock = SlaClock(last.case_id, last.target, ClockState.NONE, None, None)
    return CaseClock(clock, last.at)


def _next(clock: SlaClock | None, fact: SlaFact, warned: bool) -> SlaClock:
    state = _STATE_OF.get(fact.kind, ClockState.NONE)
    if state is ClockState.NONE:
        return SlaClock(fact.case_id, fact.target, state, None, None)
    if fact.kind == "started" or clock is None or clock.state is ClockState.NONE:
        return SlaClock(fact.case_id, fact.target, state, fact.due_at, fact.at)
    due = fact.due_at or clock.due_at
    started = clock.started_at
    if fact.kind == "resumed":
        # The SLA service warns a clock once: one warned before its pause stays warned.
        state = ClockState.WARNING if warned else state
        if started is not None and clock.due_at and due:
            # The pause moved the deadline; the start moves with it, so that due - start stays
            # the allowance and the desk's "share left" is right after a pause too.
            started += due - clock.due_at
    return replace(clock, state=state, due_at=due, started_at=started)


def _urgency(clock: SlaClock) -> tuple[datetime, int]:
    return clock.due_at or _NEVER, TARGET_ORDER.get(clock.target, len(TARGET_ORDER))
