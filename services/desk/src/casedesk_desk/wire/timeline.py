"""GetCaseTimeline's facts -> history lines in Russian, and the case's current SLA clock;
GetDeskOverview -> the supervisors' overview."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_desk.application.ports import HistoryItem, Timeline
from casedesk_desk.domain.overview import DayCompliance, Overview, QueueLoad, SpecialistLoad
from casedesk_desk.domain.queue import NO_CLOCK, Clock, SlaState
from casedesk_desk.domain.words import notification_line, sla_line
from casedesk_desk.wire.cases import maybe_when, when

SLA_ACTOR = "Служба сроков"
NOTIFY_ACTOR = "Служба уведомлений"
KIND_ORDER = {"started": 0, "resumed": 1, "warning": 2, "breached": 3, "paused": 4, "met": 5}
# How each SLA fact leaves the clock it speaks of.
CLOCK_AFTER = {
    "started": SlaState.RUNNING,
    "resumed": SlaState.RUNNING,
    "warning": SlaState.WARNING,
    "breached": SlaState.BREACHED,
    "paused": SlaState.PAUSED,
    "met": SlaState.NONE,
}


def timeline(message: pb.CaseTimeline) -> Timeline:
    items = [
        HistoryItem(
            at=when(fact.at),
            actor=SLA_ACTOR,
            what=sla_line(fact.kind, fact.target, maybe_when(fact, "due_at"), fact.late),
            source="sla",
        )
        for fact in message.sla
    ]
    items += [
        HistoryItem(
            at=when(notice.at),
            actor=NOTIFY_ACTOR,
            what=notification_line(notice.kind, notice.channel, notice.recipient_masked),
            body=notice.error if notice.kind != "sent" else "",
            source="notice",
        )
        for notice in message.notifications
    ]
    return Timeline(sorted(items, key=lambda item: item.at), current_clock(message.sla))


def current_clock(facts: Sequence[pb.SlaFact]) -> Clock:
    """The case's clock now, folded from its SLA facts as the case service folds them for the
    queue (its adapters/timeline/clocks.py; CaseView carries no clock): each target's own clock
    in the order the facts happened, then the open one with the nearest deadline; none open,
    none shown."""
    targets: dict[str, Clock] = {}
    warned: set[str] = set()
    for _, fact in sorted(enumerate(facts), key=_happened):
        was = targets.get(fact.target)
        state = CLOCK_AFTER.get(fact.kind, SlaState.NONE)
        if fact.kind == "started":
            warned.discard(fact.target)
        elif fact.kind == "warning":
            warned.add(fact.target)
        elif state is SlaState.RUNNING and fact.target in warned:
            state = SlaState.WARNING  # warned before a pause, still warned after it
        due = maybe_when(fact, "due_at") or (was.due if was else None)
        started = when(fact.at) if fact.kind == "started" else (was.started if was else None)
        targets[fact.target] = Clock(state, fact.target, due, started)
    running = [c for c in targets.values() if c.state is not SlaState.NONE]
    if not running:
        return NO_CLOCK
    return min(running, key=lambda c: (c.due is None, c.due or datetime.max.replace(tzinfo=UTC)))


def _happened(numbered: tuple[int, pb.SlaFact]) -> tuple[int, int, int, int]:
    """The facts' instant, then the SLA service's order at one instant (a start before an alarm,
    an alarm before a pause or a meeting), then the order the case service listed them in."""
    n, fact = numbered
    return (fact.at.seconds, fact.at.nanos, KIND_ORDER.get(fact.kind, len(KIND_ORDER)), n)


def overview(message: pb.DeskOverview) -> Overview:
    return Overview(
        as_of=when(message.as_of),
        queues=[
            QueueLoad(types_pb2.Tier.Name(q.tier), q.queue, q.open, q.unassigned, q.breached)
            for q in message.queues
        ],
        specialists=[
            SpecialistLoad(s.specialist_id, s.open, s.waiting_for_citizen)
            for s in message.specialists
        ],
        breaches_today=message.breaches_today,
        days=[
            DayCompliance(date.fromisoformat(d.date), d.met_on_time, d.met_late, d.breached)
            for d in message.compliance
        ],
    )
