"""What if another SLA policy had been in force: every clock recomputed from case.events.v1.

The rules of a clock's life are the SLA service's (DESIGN.md "Deadlines"): both clocks start at
registration; a public specialist reply or any status change not made by the citizen meets the
first response; ANSWER_READY or CLOSED meets both; WAITING_FOR_CITIZEN pauses both and leaving it
resumes them; a clock whose due instant passed before the next fact of its case is breached and
no longer pauses. Every due instant, pause and resume is computed by the deadline library
(`casedesk_deadlines` countdowns) under the chosen policy; nothing here counts calendar time.

Clock state is kept as plain numbers (microseconds) so a checkpoint can store it; a `Countdown`
is rebuilt from them for each computation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from casedesk_deadlines import Countdown, Policy, Target, TargetKind
from casedesk_replay.projections.cases import RESOLVING
from casedesk_replay.projections.sla import outcome
from casedesk_replay.wire import (
    CHANNEL,
    CITIZEN,
    SPECIALIST,
    STATUS,
    Micros,
    from_micros,
    to_micros,
)
from casedesk_replay.wire import micros as micros_of

Clock = dict[str, Any]

WHATIF_COLUMNS = (
    "case_id", "target", "channel", "policy_version", "calendar_version", "started_at",
    "due_at", "breached_at", "met_at", "late", "pauses", "outcome",
)  # fmt: skip
_KINDS = (TargetKind.FIRST_RESPONSE, TargetKind.RESOLUTION)


class WhatIfClocks:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.cases: dict[str, list[Clock]] = {}
        self.unknown_channels: dict[str, int] = {}  # channels the policy has no targets for
        self._targets: dict[str, list[tuple[TargetKind, Target]]] = {}

    def apply(self, event: Any, payload: str | None) -> None:
        if payload == "created":
            self._open(event)
            return
        clocks = self.cases.get(event.meta.case_id)
        if not clocks:
            return
        at = micros_of(event.meta.occurred_at) or 0
        if payload == "status_changed":
            self._catch_up(clocks, at)
            self._status_changed(clocks, event, at)
        elif payload == "commented" and _is_public_reply(event):
            self._catch_up(clocks, at)
            _meet(clocks[0], at, TargetKind.FIRST_RESPONSE)

    def rows(self, as_of: Micros) -> list[Clock]:
        """Every clock as of `as_of`: a running clock due before it is breached by then."""
        out = []
        for clocks in self.cases.values():
            for clock in clocks:
                row = {key: clock[key] for key in WHATIF_COLUMNS if key != "outcome"}
                if _overdue(clock, as_of):
                    row["breached_at"] = clock["due_at"]
                row["outcome"] = outcome(row)
                out.append(row)
        return out

    def _open(self, event: Any) -> None:
        case_id = event.meta.case_id
        if case_id in self.cases:
            return
        channel = CHANNEL[event.created.channel]
        targets = self._targets_of(channel)
        if targets is None:
            self.unknown_channels[channel] = self.unknown_channels.get(channel, 0) + 1
            return
        start = micros_of(event.created.registered_at) or micros_of(event.meta.occurred_at) or 0
        clocks = []
        for kind, target in targets:
            countdown = target.start(from_micros(start))
            clocks.append(
                {"case_id": case_id, "target": kind.value, "channel": channel,
                 "policy_version": self.policy.version,
                 "calendar_version": self.policy.calendar_version, "started_at": start,
                 "due_at": _due(countdown), "breached_at": None, "met_at": None, "late": False,
                 "pauses": 0, "budget": _us(countdown.budget), "remaining": _us(countdown.budget),
                 "running_since": start, "_target": target}
            )  # fmt: skip
        self.cases[case_id] = clocks

    def _status_changed(self, clocks: list[Clock], event: Any, at: Micros) -> None:
        change = event.status_changed
        to_status, from_status = STATUS[change.to_status], STATUS[change.from_status]
        if event.meta.actor.kind != CITIZEN:
            _meet(clocks[0], at, TargetKind.FIRST_RESPONSE)
        if to_status in RESOLVING:
            for clock in clocks:
                _meet(clock, at, None)
        elif to_status == "WAITING_FOR_CITIZEN":
            for clock in clocks:
                _pause(clock, at)
        elif from_status == "WAITING_FOR_CITIZEN":
            for clock in clocks:
                _resume(clock, at)

    def _catch_up(self, clocks: list[Clock], at: Micros) -> None:
        for clock in clocks:
            if _overdue(clock, at):
                clock["breached_at"] = clock["due_at"]

    def _targets_of(self, channel: str) -> list[tuple[TargetKind, Target]] | None:
        if channel not in self._targets:
            if channel not in self.policy.targets:
                return None
            self._targets[channel] = [
                (kind, target)
                for kind in _KINDS
                if (target := self.policy.find_target(channel, kind)) is not None
            ]
        return self._targets[channel]

    # -- checkpoint: targets are looked up again from the policy on restore ------------------

    def snapshot(self) -> dict[str, Any]:
        cases = {
            case_id: [{k: v for k, v in clock.items() if k != "_target"} for clock in clocks]
            for case_id, clocks in self.cases.items()
        }
        return {"policy": self.policy.version, "cases": cases, "unknown": self.unknown_channels}

    def restore(self, state: dict[str, Any]) -> None:
        if state["policy"] != self.policy.version:
            raise ValueError(
                f"checkpoint is for policy {state['policy']}, not {self.policy.version}"
            )
        self.unknown_channels = state["unknown"]
        self.cases = state["cases"]
        for clocks in self.cases.values():
            for clock in clocks:
                clock["_target"] = self.policy.target(clock["channel"], clock["target"])


def _is_public_reply(event: Any) -> bool:
    return bool(event.commented.public) and event.meta.actor.kind == SPECIALIST


def _overdue(clock: Clock, at: Micros) -> bool:
    running = clock["running_since"] is not None and clock["met_at"] is None
    return running and clock["breached_at"] is None and clock["due_at"] < at


def _meet(clock: Clock, at: Micros, kind: TargetKind | None) -> None:
    if kind is not None and clock["target"] != kind.value:
        return  # a channel without a first-response target (MFC) has only the resolution clock
    if clock["met_at"] is None:
        clock["met_at"] = at
        clock["late"] = clock["breached_at"] is not None


def _pause(clock: Clock, at: Micros) -> None:
    if clock["met_at"] is not None or clock["running_since"] is None:
        return
    if clock["breached_at"] is not None:  # nothing left to count: it waits to be met, late
        return
    paused = _countdown(clock).pause(from_micros(at))
    clock["remaining"] = _us(paused.remaining)
    clock["running_since"] = None
    clock["pauses"] += 1


def _resume(clock: Clock, at: Micros) -> None:
    if clock["met_at"] is not None or clock["running_since"] is not None:
        return
    resumed = _countdown(clock).resume(from_micros(at))
    clock["running_since"] = at
    clock["due_at"] = _due(resumed)


def _countdown(clock: Clock) -> Countdown:
    since = clock["running_since"]
    return Countdown(
        clock["_target"],
        timedelta(microseconds=clock["budget"]),
        timedelta(microseconds=clock["remaining"]),
        None if since is None else from_micros(since),
    )


def _due(countdown: Countdown) -> Micros:
    due = countdown.due()
    assert due is not None, "a running countdown always has a due instant"
    return to_micros(due)


def _us(duration: timedelta) -> int:
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
