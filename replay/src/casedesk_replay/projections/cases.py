"""Cases as rows, every status transition and every rating of an answer: the fold of
case.events.v1.

One row per case (a plain dict, so a checkpoint pickles it and an export turns it into columns),
one tuple per status change (with the close reason of a closing) and one per AnswerRated, with
the queue, tier and assignee the case had when it was rated (the replayed state at that event,
which a row read at the end no longer has). No personal data is kept: the citizen, subjects,
comment bodies, rating comments, callback notes and reasons stay in the topic; analysts get
channels, categories, tiers, statuses, scores and instants. None of these is ever sealed (issue
#18), so a log whose personal fields and free texts are tokens folds exactly as the same log in
clear, also after the citizen was erased.

Events are applied once per (case, version): the outbox relay may re-publish a batch after a
crash, with the same versions, and a replay must count it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from casedesk_replay.wire import (
    ACTOR_KIND,
    CASE_TYPE,
    CATEGORY,
    CHANNEL,
    CITIZEN,
    CLOSE_REASON,
    PRIORITY,
    SPECIALIST,
    STATUS,
    TIER,
    Micros,
    micros,
)

Row = dict[str, Any]
# (case_id, case_version, at, from_status, to_status, actor_kind, close_reason)
Transition = tuple[str, int, Micros, str, str, str, str]


class RatingRow(NamedTuple):
    """A citizen's rating of the answer, with the case as it stood when it was given."""

    case_id: str
    case_version: int
    at: Micros
    score: int  # 1 to 5
    rated_via: str  # the channel the rating came from
    channel: str  # the case's channel
    queue: str
    tier: str
    assignee: str  # the specialist holding the case then; empty: nobody


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
        "version": 0, "updated_at": None, "created_seen": False, "close_reason": "",
        "rating": None, "merged_into": "", "duplicates_merged": 0, "callbacks": 0,
        "callbacks_reached": 0,
    }  # fmt: skip


class CaseBook:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.transitions: list[Transition] = []
        self.ratings: list[RatingRow] = []
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
            "answer_rated": self._answer_rated,
            "merged_into": self._merged_into,
            "duplicate_merged": self._duplicate_merged,
            "callback_recorded": self._callback_recorded,
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
        # A closing's reason (CLOSE_REASON_UNSPECIFIED for those stored before reasons existed).
        reason = CLOSE_REASON[change.close_reason] if to_status == "CLOSED" else ""
        self.transitions.append(
            (row["case_id"], event.meta.case_version, at, STATUS[change.from_status], to_status,
             ACTOR_KIND[actor], reason)
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
                row["close_reason"] = reason

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

    def _answer_rated(self, row: Row, event: Any, at: Micros) -> None:
        rated = event.answer_rated
        row["rating"] = rated.score
        self.ratings.append(
            RatingRow(row["case_id"], event.meta.case_version, at, rated.score,
                      CHANNEL[rated.channel], row["channel"], row["queue"], row["tier"],
                      row["assignee"])
        )  # fmt: skip

    def _merged_into(self, row: Row, event: Any, at: Micros) -> None:
        row["merged_into"] = event.merged_into.target_case_id

    def _duplicate_merged(self, row: Row, event: Any, at: Micros) -> None:
        row["duplicates_merged"] += 1

    def _callback_recorded(self, row: Row, event: Any, at: Micros) -> None:
        row["callbacks"] += 1
        row["callbacks_reached"] += event.callback_recorded.reached

    # -- checkpoint ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"rows": self.rows, "transitions": self.transitions, "ratings": self.ratings,
                "duplicates": self.duplicates}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.rows = state["rows"]
        self.transitions = state["transitions"]
        self.ratings = state["ratings"]
        self.duplicates = state["duplicates"]
