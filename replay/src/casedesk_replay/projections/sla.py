"""SLA outcomes: the fold of sla.events.v1 into one row per (case, target) clock.

The SLA service emits each fact exactly once, but a replay may still see a clock's events more
than once (a topic mirrored twice, a file concatenated); every update here is idempotent, so the
outcome does not depend on it.
"""

from __future__ import annotations

from typing import Any

from casedesk_replay.wire import CHANNEL, SLA_TARGET, TIER, micros

Row = dict[str, Any]

# Outcome of a clock, in the words of the reports.
MET = "MET"
MET_LATE = "MET_LATE"
BREACHED = "BREACHED"
OPEN = "OPEN"
OUTCOMES = (MET, MET_LATE, BREACHED, OPEN)


def outcome(row: Row) -> str:
    """MET on time, MET_LATE (after its breach), BREACHED (and still not met) or OPEN."""
    if row["met_at"] is not None:
        return MET_LATE if row["late"] or row["breached_at"] is not None else MET
    return BREACHED if row["breached_at"] is not None else OPEN


def new_clock(case_id: str, target: str) -> Row:
    return {
        "case_id": case_id, "target": target, "channel": "", "policy_version": "",
        "calendar_version": "", "started_at": None, "due_at": None, "warned_at": None,
        "breached_at": None, "breach_tier": None, "met_at": None, "late": False, "pauses": 0,
        "last_paused_at": None,
    }  # fmt: skip


class SlaOutcomes:
    def __init__(self) -> None:
        self.clocks: dict[tuple[str, str], Row] = {}
        self.breaches = 0  # Breached events seen, duplicates excluded

    def apply(self, event: Any) -> None:
        case_id = event.meta.case_id
        target = SLA_TARGET[event.target]
        key = (case_id, target)
        row = self.clocks.get(key)
        if row is None:
            row = self.clocks[key] = new_clock(case_id, target)
            # A clock keeps the policy it started under, so its first event says it all.
            row["channel"] = CHANNEL[event.channel]
            row["policy_version"] = event.policy_version
            row["calendar_version"] = event.calendar_version
        payload = event.WhichOneof("payload")
        if payload == "started":
            row["started_at"] = micros(event.started.started_at)
            row["due_at"] = micros(event.due_at)
        elif payload == "paused":
            paused_at = micros(event.paused.paused_at)
            last = row["last_paused_at"]
            if paused_at is not None and (last is None or paused_at > last):
                row["pauses"] += 1
                row["last_paused_at"] = paused_at
        elif payload == "resumed":
            row["due_at"] = micros(event.due_at)
        elif payload == "warning":
            row["warned_at"] = row["warned_at"] or micros(event.meta.occurred_at)
        elif payload == "breached":
            if row["breached_at"] is None:
                self.breaches += 1
                row["breached_at"] = micros(event.breached.fired_at) or micros(event.due_at)
                row["breach_tier"] = TIER[event.breached.tier]
        elif payload == "met":
            if row["met_at"] is None:
                row["met_at"] = micros(event.met.met_at)
            row["late"] = row["late"] or event.met.late

    def snapshot(self) -> dict[str, Any]:
        return {"clocks": self.clocks, "breaches": self.breaches}

    def restore(self, state: dict[str, Any]) -> None:
        self.clocks = state["clocks"]
        self.breaches = state["breaches"]
