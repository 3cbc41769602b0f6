"""The SLA events the SLA service publishes for a synthetic case, under a policy, up to `as_of`.

Driven by the case's events in order (start at registration; pause, resume and meet by the
rules of DESIGN.md "Deadlines"); due instants come from the deadline library's countdowns, for
the case's channel and category.
Warnings are not emitted: no projection here depends on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.sla.v1 import events_pb2 as se
from casedesk_deadlines import Countdown, Policy, TargetKind
from casedesk_runtime.events import from_timestamp, to_timestamp

SLA_ACTOR = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-sla")
_RESOLVING = (types_pb2.ANSWER_READY, types_pb2.CLOSED)


@dataclass
class _Clock:
    kind: TargetKind
    countdown: Countdown
    breached: bool = False
    met: bool = False


def sla_events(case: list[ce.CaseEvent], policy: Policy, as_of: datetime) -> Iterator[se.SlaEvent]:
    created = case[0]
    channel = types_pb2.Channel.Name(created.created.channel)
    # A policy may set targets by category (2026.1: sign-in problems within 24 h), as the SLA
    # service looks them up.
    category = types_pb2.Category.Name(created.created.category)
    start = from_timestamp(created.created.registered_at).astimezone(as_of.tzinfo)
    clocks = [
        _Clock(kind, target.start(start))
        for kind in TargetKind
        if (target := policy.find_target(channel, kind, category)) is not None
    ]
    emit = _Emitter(created.meta.case_id, created.created.channel, policy)
    for clock in clocks:
        yield emit(clock, "started", start, started=se.ClockStarted(started_at=to_timestamp(start)))
    for event in case[1:]:
        at = from_timestamp(event.meta.occurred_at).astimezone(as_of.tzinfo)
        yield from _breaches(clocks, at, emit)
        for clock, action in _actions(clocks, event):
            if clock.met:  # met by this very event (a specialist's move to waiting)
                continue
            if action == "met":
                clock.met = True
                yield emit(
                    clock, "met", at, met=se.Met(met_at=to_timestamp(at), late=clock.breached)
                )
            elif action == "paused" and not clock.breached:
                clock.countdown = clock.countdown.pause(at)
                yield emit(clock, "paused", at, paused=se.ClockPaused(paused_at=to_timestamp(at)))
            elif action == "resumed" and clock.countdown.paused:
                clock.countdown = clock.countdown.resume(at)
                yield emit(
                    clock, "resumed", at, resumed=se.ClockResumed(resumed_at=to_timestamp(at))
                )
    yield from _breaches(clocks, as_of, emit)


def _actions(clocks: list[_Clock], event: ce.CaseEvent) -> Iterator[tuple[_Clock, str]]:
    open_clocks = [clock for clock in clocks if not clock.met]
    actor = event.meta.actor.kind
    if event.HasField("commented"):
        if event.commented.public and actor == types_pb2.Actor.SPECIALIST:
            yield from ((c, "met") for c in open_clocks if c.kind is TargetKind.FIRST_RESPONSE)
        return
    if not event.HasField("status_changed"):
        return
    change = event.status_changed
    if change.to_status in _RESOLVING:
        yield from ((c, "met") for c in open_clocks)
        return
    if actor != types_pb2.Actor.CITIZEN:
        yield from ((c, "met") for c in open_clocks if c.kind is TargetKind.FIRST_RESPONSE)
    action = (
        "paused" if change.to_status == types_pb2.WAITING_FOR_CITIZEN
        else "resumed" if change.from_status == types_pb2.WAITING_FOR_CITIZEN
        else ""
    )  # fmt: skip
    if action:
        yield from ((c, action) for c in open_clocks)


def _breaches(clocks: list[_Clock], before: datetime, emit: _Emitter) -> Iterator[se.SlaEvent]:
    for clock in clocks:
        due = clock.countdown.due()
        if clock.met or clock.breached or due is None or not due < before:
            continue
        clock.breached = True
        yield emit(clock, "breached", due, breached=se.Breached(fired_at=to_timestamp(due)))


class _Emitter:
    def __init__(self, case_id: str, channel: int, policy: Policy) -> None:
        self.case_id, self.channel, self.policy = case_id, channel, policy
        self.count = 0

    def __call__(self, clock: _Clock, name: str, at: datetime, **payload: object) -> se.SlaEvent:
        self.count += 1
        due = clock.countdown.due()
        event = se.SlaEvent(
            meta=envelope_pb2.EventMeta(
                event_id=f"{self.case_id}/sla/{self.count}", case_id=self.case_id,
                event_type=f"sla.{name}", occurred_at=to_timestamp(at), actor=SLA_ACTOR,
            ),
            target=se.Target.Value(clock.kind.value),
            channel=self.channel,  # type: ignore[arg-type]
            policy_version=self.policy.version,
            calendar_version=self.policy.calendar_version,
            **payload,  # type: ignore[arg-type]
        )  # fmt: skip
        if due is not None:
            event.due_at.CopyFrom(to_timestamp(due))
        return event
