"""Pure projections of the replayed streams: batches of decoded events in, plain tables out.

`ReplayState` routes each stream's events to the projections that fold it. Every case event's
version is noted first (`CaseVersions`: gaps and duplicates in each case's stream), then case
events are deduplicated once, by (case, version), before any projection sees them. Projections
never do I/O; sources feed them and the exporters read them, so all of it is testable on
synthetic events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from casedesk_replay.projections.cases import CaseBook
from casedesk_replay.projections.escalations import CASE_PAYLOADS, EscalationLog
from casedesk_replay.projections.notifications import NotificationJournal
from casedesk_replay.projections.sla import SlaOutcomes
from casedesk_replay.projections.versions import CaseVersions
from casedesk_replay.projections.whatif import WhatIfClocks
from casedesk_replay.topics import Stream

# 2: the case versions seen (gap detection) are part of the state. 3: ratings, close reasons,
# merges and callbacks (#19): an older checkpoint passed over those events.
STATE_FORMAT = 3


class ReplayState:
    def __init__(self, whatif: WhatIfClocks | None = None, *, from_start: bool = True,
                 baseline: WhatIfClocks | None = None) -> None:  # fmt: skip
        """`from_start`: the read begins at the start of the streams (no `--since` window), so
        every case's versions are expected from 1 (see `CaseVersions`). `baseline`: a second
        set of what-if clocks, fed the same events, to compare `whatif` with."""
        self.versions = CaseVersions(from_start)
        self.cases = CaseBook()
        self.sla = SlaOutcomes()
        self.notifications = NotificationJournal()
        self.escalations = EscalationLog()
        self.whatif = whatif
        self.baseline = baseline
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
        whatif, baseline = self.whatif, self.baseline
        versions = self.versions
        tops, above, note_version = versions.run_top, versions.above, versions.note
        for event in events:
            # The envelope is read once for the version ledger and the case book: reading a
            # protobuf field costs more than the ledger's own work.
            meta = event.meta
            case_id = meta.case_id
            version = meta.case_version
            # CaseVersions.observe's usual step, inline: the next version of a case without a hole.
            top = tops.get(case_id)
            if top is not None and version == top + 1 and case_id not in above:
                tops[case_id] = version
            else:
                note_version(case_id, version)
            payload = event.WhichOneof("payload")
            if not apply_case(event, payload, meta, case_id, version):
                continue
            if payload in CASE_PAYLOADS:
                on_escalation(event, payload)
            if whatif is not None:
                whatif.apply(event, payload)
            if baseline is not None:
                baseline.apply(event, payload)

    def snapshot(self) -> dict[str, Any]:
        """Everything folded so far, as plain containers a checkpoint can store."""
        return {
            "format": STATE_FORMAT,
            "events": self.events,
            "versions": self.versions.snapshot(),
            "cases": self.cases.snapshot(),
            "sla": self.sla.snapshot(),
            "notifications": self.notifications.snapshot(),
            "escalations": self.escalations.snapshot(),
            "whatif": self.whatif.snapshot() if self.whatif is not None else None,
            "baseline": self.baseline.snapshot() if self.baseline is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"projection state format {state.get('format')} is not supported (a checkpoint "
                "of an older casedesk-replay): delete it and replay again"
            )
        self.events = state["events"]
        self.versions.restore(state["versions"])
        self.cases.restore(state["cases"])
        self.sla.restore(state["sla"])
        self.notifications.restore(state["notifications"])
        self.escalations.restore(state["escalations"])
        if self.whatif is not None:
            if state["whatif"] is None:
                raise ValueError("the checkpoint was taken without a what-if policy")
            self.whatif.restore(state["whatif"])
        if self.baseline is not None:
            if state.get("baseline") is None:
                raise ValueError("the checkpoint was taken without a baseline policy")
            self.baseline.restore(state["baseline"])


__all__ = [
    "CaseBook",
    "CaseVersions",
    "EscalationLog",
    "NotificationJournal",
    "ReplayState",
    "SlaOutcomes",
    "WhatIfClocks",
]
