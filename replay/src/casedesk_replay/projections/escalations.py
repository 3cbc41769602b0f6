"""Escalations: citizens' requests and tier changes (case.events.v1) and the escalation service's
decisions (escalation.decisions.v1), as one table with a `source` column.

Case events arrive here already deduplicated by the case book; decisions are keyed by event id.
Explanations are free text and are not kept.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from casedesk_replay.wire import ESCALATION_REASON, PRIORITY, TIER, Micros, micros


class Escalation(NamedTuple):
    case_id: str
    event_id: str
    at: Micros
    source: str
    reason: str
    from_tier: str
    to_tier: str
    accepted: bool | None  # decisions only
    cause_ref: str  # breach event id or request id (for decisions: the trigger event id)
    priority: str
    callback_required: bool
    policy_version: str


ESCALATION_COLUMNS = Escalation._fields

REQUESTED = "REQUESTED"  # the citizen asked (EscalationRequested)
ESCALATED = "ESCALATED"  # the case moved to another tier (Escalated)
DECIDED = "DECIDED"  # the escalation service decided on a trigger (EscalationDecision)

CASE_PAYLOADS = frozenset({"escalated", "escalation_requested"})


class EscalationLog:
    def __init__(self) -> None:
        self.rows: list[Escalation] = []
        self._decisions: set[str] = set()

    def on_case_event(self, event: Any, payload: str) -> None:
        meta = event.meta
        at = micros(meta.occurred_at) or 0
        if payload == "escalated":
            e = event.escalated
            self.rows.append(
                Escalation(
                    meta.case_id, meta.event_id, at, ESCALATED,
                    reason=ESCALATION_REASON[e.reason],
                    from_tier=TIER[e.from_tier],
                    to_tier=TIER[e.to_tier],
                    accepted=None,
                    cause_ref=e.cause_ref,
                    priority=PRIORITY[e.priority],
                    callback_required=e.callback_required,
                    policy_version="",
                )
            )  # fmt: skip
        elif payload == "escalation_requested":
            r = event.escalation_requested
            self.rows.append(
                Escalation(
                    meta.case_id, meta.event_id, at, REQUESTED,
                    reason=ESCALATION_REASON[r.reason],
                    from_tier="",
                    to_tier="",
                    accepted=None,
                    cause_ref=r.request_id,
                    priority="",
                    callback_required=False,
                    policy_version="",
                )
            )  # fmt: skip

    def on_decision(self, decision: Any) -> None:
        meta = decision.meta
        if meta.event_id in self._decisions:
            return
        self._decisions.add(meta.event_id)
        self.rows.append(
            Escalation(
                meta.case_id, meta.event_id, micros(meta.occurred_at) or 0, DECIDED,
                reason=ESCALATION_REASON[decision.reason],
                from_tier=TIER[decision.from_tier],
                to_tier=TIER[decision.to_tier],
                accepted=decision.accepted,
                cause_ref=decision.trigger_event_id,
                priority="",
                callback_required=False,
                policy_version=decision.policy_version,
            )
        )  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        return {"rows": self.rows, "decisions": self._decisions}

    def restore(self, state: dict[str, Any]) -> None:
        self.rows = state["rows"]
        self._decisions = state["decisions"]
