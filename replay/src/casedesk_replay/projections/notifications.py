"""The delivery journal: the fold of notification.events.v1 into one row per notification.

A notification (one source event, one channel) is requested once, may fail and be retried, and
ends sent or dead-lettered; or notify decides it itself (casedesk_vocabulary.notices): held for
the recipient's window, then sent or superseded, suppressed, or merged into the status notice
that followed it. A decision is not a failure (older journals carry one as `failed`, recognised
by its words): `failures` counts only the gateways' refusals. Attempt numbers make the fold
idempotent. Error texts come from
gateways and may quote an address, so they are masked before they are kept, and a sealed field's
token quoted in one (issue #18) is kept as `[sealed]` (`casedesk_replay.sealed`).
"""

from __future__ import annotations

from typing import Any

from casedesk_replay.sealed import without_tokens
from casedesk_replay.wire import DELIVERY_CHANNEL, micros
from casedesk_runtime.masking import mask_text
from casedesk_vocabulary.notices import legacy_decision

Row = dict[str, Any]

REQUESTED = "REQUESTED"
HELD = "HELD"
FAILED = "FAILED"
SENT = "SENT"
DEAD_LETTERED = "DEAD_LETTERED"
SUPERSEDED = "SUPERSEDED"
SUPPRESSED = "SUPPRESSED"
MERGED = "MERGED"
# A later state never goes back to an earlier one, whatever order duplicates arrive in. The
# ends without a message of its own rank with dead-lettering: a notification has one of them.
_RANK = {
    REQUESTED: 0, HELD: 1, FAILED: 2,
    DEAD_LETTERED: 3, SUPERSEDED: 3, SUPPRESSED: 3, MERGED: 3,
    SENT: 4,
}  # fmt: skip
STATES = tuple(_RANK)
# notify's decisions (notification.events.v1 payloads) and the state each leaves.
_DECIDED = {"held": HELD, "superseded": SUPERSEDED, "suppressed": SUPPRESSED, "merged": MERGED}


def new_notification(event: Any, notification_id: str) -> Row:
    # A literal, not dict.fromkeys + update: this runs for every notification of a replay.
    return {
        "notification_id": notification_id, "case_id": event.meta.case_id,
        "source_event_id": event.source_event_id, "channel": DELIVERY_CHANNEL[event.channel],
        "template": event.template, "state": REQUESTED, "requested_at": None, "sent_at": None,
        "dead_lettered_at": None, "attempts": 0, "failures": 0, "sms_segments": 0,
        "last_error": "",
    }  # fmt: skip


class NotificationJournal:
    def __init__(self) -> None:
        self.notifications: dict[str, Row] = {}

    def apply(self, event: Any) -> None:
        key = event.notification_id or event.meta.event_id
        row = self.notifications.get(key)
        if row is None:
            row = self.notifications[key] = new_notification(event, key)
        payload = event.WhichOneof("payload")
        if payload == "requested":
            if row["requested_at"] is None:
                row["requested_at"] = micros(event.meta.occurred_at)
                row["sms_segments"] = row["sms_segments"] or event.requested.sms_segments
        elif payload == "sent":
            sent = event.sent
            if row["sent_at"] is None:
                row["sent_at"] = micros(sent.sent_at) or micros(event.meta.occurred_at)
            row["attempts"] = max(row["attempts"], sent.attempt)
            if sent.sms_segments:
                row["sms_segments"] = sent.sms_segments
            _advance(row, SENT)
        elif payload in _DECIDED:
            _advance(row, _DECIDED[payload])
        elif payload == "failed" and (decided := legacy_decision(event.failed.error)):
            _advance(row, _DECIDED[decided])
        elif payload == "failed":
            failed = event.failed
            if failed.attempt > row["failures"]:
                row["failures"] = failed.attempt
                row["last_error"] = _error(failed.error)
            row["attempts"] = max(row["attempts"], failed.attempt)
            _advance(row, FAILED)
        elif payload == "dead_lettered":
            dead = event.dead_lettered
            row["dead_lettered_at"] = row["dead_lettered_at"] or micros(event.meta.occurred_at)
            row["attempts"] = max(row["attempts"], dead.attempts)
            row["last_error"] = _error(dead.error) or row["last_error"]
            _advance(row, DEAD_LETTERED)

    def snapshot(self) -> dict[str, Any]:
        return {"notifications": self.notifications}

    def restore(self, state: dict[str, Any]) -> None:
        self.notifications = state["notifications"]


def _error(text: str) -> str:
    return mask_text(without_tokens(text))


def _advance(row: Row, state: str) -> None:
    if _RANK[state] > _RANK[row["state"]]:
        row["state"] = state
