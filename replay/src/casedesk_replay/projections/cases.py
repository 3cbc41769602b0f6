"""Cases as rows, and every status transition: the fold of case.events.v1.

One row per case (a plain dict, so a checkpoint pickles it and an export turns it into columns)
and one tuple per status change. No personal data is kept: the citizen, subjects, comment bodies
and reasons stay in the topic; analysts get channels, categories, tiers, statuses and instants.

Events are applied once per (case, version): the outbox relay may re-publish a batch after a
crash, with the same versions, and a replay must count it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from casedesk_replay.wire import (
    ACTOR_KIND,
    CASE_TYPE,
    CATEGORY,
    CHANNEL,
    CITIZEN,
    PRIORITY,
    SPECIALIST,
    STATUS,
    TIER,
    Micros,
    micros,
)

Row = dict[str, Any]
# (case_id, case_version, at, from_status, to_status, actor_kind)
Transition = tuple[str, int, Micros, str, str, str]

RESOLVING = frozenset({"ANSWER_READY", "CLOSED"})


def new_row(case_id: str) -> Row:
    """A case known only by id until its Created event (outside the range, if never) arrives."""
    return {
        "case_id": case_id, "number": "", "channel": "", "case_type": "", "category": "",
        "queue": "", "tier": "", "initial_tier": "", "priority": "", "status": "",
        "registered_at": None, "first_response_at": None, "resolved_at": None,
        "closed_at": None, "repeat_of": "", "linked_to": "", "repeated_by": 0, "links": 0,
        "escalations": 0, "escalation_requests": 0, "assignee": "", "assignments": 0,
        "public_replies": 0, "internal_notes": 0, "citizen_comments": 0, "attachments": 0,
        "version": 0, "updated_at": None, "created_seen": False,
    }  # fmt: skip


class CaseBook:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.transitions: list[Transition] = []
        self.duplicates = 0
        self._handlers: dict[str, Callable[[Row, Any, Micros], None]] = {
            "created": self._created,
            "status_changed": self._status_changed,
            "commented": self._commented,
            "assigned": self._assigned,
            "escalated": self._escalated,
            "escalation_requested": self._escalation_requested,
            "repeated": self._repeated,
            "attachment_added": self._attachment_added,
            "linked": self._linked,
        }

    def apply(self, event: Any, payload: str | None, meta: Any, case_id: str,
              version: int) -> bool:  # fmt: skip
        """Fold one CaseEvent; False when it was already applied (a re-published duplicate).

        The envelope's fields come read by the caller, which needs them too (gap detection):
        reading protobuf fields is a good part of the fold's cost, so they are read once."""
        row = self.rows.get(case_id)
        if row is None:
            row = self.rows[case_id] = new_row(case_id)
        elif version <= row["version"]:
            self.duplicates += 1
            return False
        at = micros(meta.occurred_at) or 0
        row["version"] = version
        row["updated_at"] = at
        handler = self._handlers.get(payload or "")
        if handler is not None:
            handler(row, event, at)
        return True

    def _created(self, row: Row, event: Any, at: Micros) -> None:
        created = event.created
        tier = TIER[created.tier]
        row.update(
            number=created.number,
            channel=CHANNEL[created.channel],
            case_type=CASE_TYPE[created.type],
            category=CATEGORY[created.category],
            queue=created.queue,
            tier=tier,
            initial_tier=tier,
            priority=PRIORITY[created.priority],
            status="REGISTERED",
            registered_at=micros(created.registered_at) or at,
            repeat_of=created.repeat_of,
            linked_to=created.linked_to,
            attachments=row["attachments"] + len(created.attachments),
            created_seen=True,
        )

    def _status_changed(self, row: Row, event: Any, at: Micros) -> None:
        change = event.status_changed
        to_status = STATUS[change.to_status]
        actor = event.meta.actor.kind
        self.transitions.append(
            (row["case_id"], event.meta.case_version, at, STATUS[change.from_status], to_status,
             ACTOR_KIND[actor])
        )  # fmt: skip
        row["status"] = to_status
        # The SLA rule: support's status change is a response, the citizen's answer is not, and
        # a resolution answers the first response too.
        resolving = to_status in RESOLVING
        if (actor != CITIZEN or resolving) and row["first_response_at"] is None:
            row["first_response_at"] = at
        if resolving:
            if row["resolved_at"] is None:
                row["resolved_at"] = at
            if to_status == "CLOSED":
                row["closed_at"] = at

    def _commented(self, row: Row, event: Any, at: Micros) -> None:
        actor = event.meta.actor.kind
        if actor == CITIZEN:
            row["citizen_comments"] += 1
        elif not event.commented.public:
            row["internal_notes"] += 1
        else:
            row["public_replies"] += 1
            if actor == SPECIALIST and row["first_response_at"] is None:
                row["first_response_at"] = at
        row["attachments"] += len(event.commented.attachments)

    def _assigned(self, row: Row, event: Any, at: Micros) -> None:
        assigned = event.assigned
        row["assignee"] = assigned.specialist_id
        row["assignments"] += 1
        if assigned.queue:
            row["queue"] = assigned.queue
        if assigned.tier:
            row["tier"] = TIER[assigned.tier]

    def _escalated(self, row: Row, event: Any, at: Micros) -> None:
        escalated = event.escalated
        row["escalations"] += 1
        row["tier"] = TIER[escalated.to_tier]
        if escalated.priority:
            row["priority"] = PRIORITY[escalated.priority]

    def _escalation_requested(self, row: Row, event: Any, at: Micros) -> None:
        row["escalation_requests"] += 1

    def _repeated(self, row: Row, event: Any, at: Micros) -> None:
        row["repeated_by"] += 1

    def _attachment_added(self, row: Row, event: Any, at: Micros) -> None:
        row["attachments"] += 1

    def _linked(self, row: Row, event: Any, at: Micros) -> None:
        row["links"] += 1

    # -- checkpoint ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"rows": self.rows, "transitions": self.transitions, "duplicates": self.duplicates}

    def restore(self, state: dict[str, Any]) -> None:
        self.rows = state["rows"]
        self.transitions = state["transitions"]
        self.duplicates = state["duplicates"]
