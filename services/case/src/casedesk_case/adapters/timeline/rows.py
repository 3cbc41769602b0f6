"""Rows of the timeline's tables <-> the timeline's values (instants as epoch microseconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from casedesk_case.adapters.timeline.store import Entry
from casedesk_case.application.timeline import ClockState, NotificationFact, SlaClock, SlaFact
from casedesk_vocabulary.moscow import from_micros, to_micros

COLUMNS = (
    "event_id", "case_id", "source", "kind", "at_us", "target", "due_us", "late",
    "notification_id", "channel", "recipient_masked", "template", "error",
)  # fmt: skip
SLA, NOTIFICATION = "sla", "notification"


def row_values(entry: Entry) -> tuple[object, ...]:
    """A `case_timeline_facts` row, in COLUMNS order."""
    event_id, fact = entry
    if isinstance(fact, SlaFact):
        return (
            event_id, fact.case_id, SLA, fact.kind, to_micros(fact.at), fact.target,
            micros_or_none(fact.due_at), int(fact.late), "", "", "", "", "",
        )  # fmt: skip
    return (
        event_id, fact.case_id, NOTIFICATION, fact.kind, to_micros(fact.at), "", None, 0,
        fact.notification_id, fact.channel, fact.recipient_masked, fact.template, fact.error,
    )  # fmt: skip


def sla_fact_of(row: Any) -> SlaFact:
    return SlaFact(
        event_id=row["event_id"],
        case_id=row["case_id"],
        at=from_micros(int(row["at_us"])),
        target=row["target"],
        kind=row["kind"],
        due_at=instant_or_none(row["due_us"]),
        late=bool(row["late"]),
    )


def notice_of(row: Any) -> NotificationFact:
    return NotificationFact(
        notification_id=row["notification_id"],
        case_id=row["case_id"],
        at=from_micros(int(row["at_us"])),
        channel=row["channel"],
        kind=row["kind"],
        recipient_masked=row["recipient_masked"],
        template=row["template"],
        error=row["error"],
    )


def clock_of(row: Any) -> SlaClock:
    return SlaClock(
        case_id=row["case_id"],
        target=row["target"],
        state=ClockState(row["state"]),
        due_at=instant_or_none(row["due_us"]),
        started_at=instant_or_none(row["started_us"]),
    )


def micros_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def instant_or_none(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(int(micros))
