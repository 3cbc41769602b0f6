"""CaseState <-> JSON text, the form per-case state takes in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from casedesk_escalation.domain.case_state import CaseState
from casedesk_vocabulary.enums import Channel, DeadlineTarget, Status, Tier


def dump_state(state: CaseState) -> str:
    document: dict[str, Any] = {
        "version": state.version,
        "channel": state.channel.value if state.channel else None,
        "status": state.status.value if state.status else None,
        "tier": state.tier.name,
        "breached": sorted(t.value for t in state.breached),
        "last_escalated_at": state.last_escalated_at.isoformat()
        if state.last_escalated_at
        else None,
        "decided": state.decided,
        "escalations": {c: [a.name, b.name] for c, (a, b) in state.escalations.items()},
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def load_state(case_id: str, text: str) -> CaseState:
    document = json.loads(text)
    last = document.get("last_escalated_at")
    return CaseState(
        case_id=case_id,
        version=document.get("version", 0),
        channel=Channel(document["channel"]) if document.get("channel") else None,
        status=Status(document["status"]) if document.get("status") else None,
        tier=Tier[document.get("tier", "L1")],
        breached={DeadlineTarget(t) for t in document.get("breached", [])},
        last_escalated_at=datetime.fromisoformat(last) if last else None,
        decided=dict(document.get("decided", {})),
        escalations={
            cause: (Tier[a], Tier[b]) for cause, (a, b) in document.get("escalations", {}).items()
        },
    )
