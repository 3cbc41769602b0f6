"""Pure projections of the replayed streams: batches of decoded events in, plain tables out.

`ReplayState` routes each stream's events to the projections that fold it. Case events are
deduplicated once, by (case, version), before any projection sees them. Projections never do
I/O; sources feed them and the exporters read them, so all of it is testable on synthetic events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from casedesk_replay.projections.cases import CaseBook
from casedesk_replay.projections.escalations import CASE_PAYLOADS, EscalationLog
from casedesk_replay.projections.notifications import NotificationJournal
from casedesk_replay.projections.sla import SlaOutcomes
from casedesk_replay.projections.whatif import WhatIfClocks
from casedesk_replay.topics import Stream

STATE_FORMAT = 1


class ReplayState:
    def __init__(self, whatif: WhatIfClocks | None = None) -> None:
        self.cases = CaseBook()
        self.sla = SlaOutcomes()
        self.notifications = NotificationJournal()
        self.escalations = EscalationLog()
        self.whatif = whatif
        self.events: dict[str, int] = {stream.value: 0 for stream in Stream}

    def apply(self, stream: Stream, events: Sequence[Any]) -> None:
        self.events[stream.value] += len(events)
        if stream is Stream.CASE:
            self._apply_case_events(events)
        elif stream is Stream.SLA:
            apply_sla = self.sla.apply
            for event in events:
                apply_sla(event)
        elif stream is Stream.NOTIFICATION:
            apply_notification = self.notifications.apply
            for event in events:
                apply_notification(event)
        else:
            on_decision = self.escalations.on_decision
            for decision in events:
                on_decision(decision)

    def _apply_case_events(self, events: Sequence[Any]) -> None:
        apply_case = self.cases.apply
        on_escalation = self.escalations.on_case_event
        whatif = self.whatif
        for event in events:
            payload = event.WhichOneof("payload")
            if not apply_case(event, payload):
                continue
            if payload in CASE_PAYLOADS:
                on_escalation(event, payload)
            if whatif is not None:
                whatif.apply(event, payload)

    def snapshot(self) -> dict[str, Any]:
        """Everything folded so far, as plain containers a checkpoint can store."""
        return {
            "format": STATE_FORMAT,
            "events": self.events,
            "cases": self.cases.snapshot(),
            "sla": self.sla.snapshot(),
            "notifications": self.notifications.snapshot(),
            "escalations": self.escalations.snapshot(),
            "whatif": self.whatif.snapshot() if self.whatif is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"projection state format {state.get('format')} is not supported")
        self.events = state["events"]
        self.cases.restore(state["cases"])
        self.sla.restore(state["sla"])
        self.notifications.restore(state["notifications"])
        self.escalations.restore(state["escalations"])
        if self.whatif is not None:
            if state["whatif"] is None:
                raise ValueError("the checkpoint was taken without a what-if policy")
            self.whatif.restore(state["whatif"])


__all__ = [
    "CaseBook",
    "EscalationLog",
    "NotificationJournal",
    "ReplayState",
    "SlaOutcomes",
    "WhatIfClocks",
]
