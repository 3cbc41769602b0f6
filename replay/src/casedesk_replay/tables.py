"""The flat tables analysts get, built column by column from the projections at the end.

Instants are `timestamp[us, UTC]`, enums are strings (their protobuf names), counters int64.
Each schema is explicit, so an empty replay still exports typed, empty tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

from casedesk_replay.projections import ReplayState
from casedesk_replay.projections.sla import outcome
from casedesk_replay.wire import Micros

_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "time": pa.timestamp("us", tz="UTC"),
}


def _schema(spec: str) -> pa.Schema:
    """Columns written as `name:type` words; types: str, int, bool, time (microseconds, UTC)."""
    return pa.schema([(name, _TYPES[kind]) for name, kind in (w.split(":") for w in spec.split())])


CASES = _schema("""
    case_id:str number:str channel:str case_type:str category:str queue:str tier:str
    initial_tier:str priority:str status:str registered_at:time first_response_at:time
    resolved_at:time closed_at:time repeat_of:str linked_to:str repeated_by:int links:int
    escalations:int escalation_requests:int assignee:str assignments:int public_replies:int
    internal_notes:int citizen_comments:int attachments:int version:int updated_at:time
    created_seen:bool close_reason:str rating:int merged_into:str duplicates_merged:int
    callbacks:int callbacks_reached:int
""")

STATUS_TRANSITIONS = _schema("""
    case_id:str case_version:int at:time from_status:str to_status:str actor_kind:str
    close_reason:str
""")

RATINGS = _schema("""
    case_id:str case_version:int at:time score:int rated_via:str channel:str queue:str tier:str
    assignee:str
""")

SLA_OUTCOMES = _schema("""
    case_id:str target:str channel:str policy_version:str calendar_version:str
    started_at:time due_at:time warned_at:time breached_at:time breach_tier:str met_at:time
    late:bool pauses:int outcome:str
""")

ESCALATIONS = _schema("""
    case_id:str event_id:str at:time source:str reason:str from_tier:str to_tier:str
    accepted:bool cause_ref:str priority:str callback_required:bool policy_version:str
""")

NOTIFICATIONS = _schema("""
    notification_id:str case_id:str source_event_id:str channel:str template:str state:str
    requested_at:time sent_at:time dead_lettered_at:time attempts:int failures:int
    sms_segments:int last_error:str
""")

WHATIF_OUTCOMES = _schema("""
    case_id:str target:str channel:str policy_version:str calendar_version:str
    started_at:time due_at:time breached_at:time met_at:time late:bool pauses:int outcome:str
""")


def from_dicts(schema: pa.Schema, rows: Iterable[dict[str, Any]]) -> pa.Table:
    rows = rows if isinstance(rows, list) else list(rows)
    return pa.table(
        [pa.array([row[field.name] for row in rows], field.type) for field in schema],
        schema=schema,
    )


def from_tuples(schema: pa.Schema, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.table(
        [pa.array(list(column), field.type) for column, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def cases(state: ReplayState) -> pa.Table:
    return from_dicts(CASES, list(state.cases.rows.values()))


def status_transitions(state: ReplayState) -> pa.Table:
    return from_tuples(STATUS_TRANSITIONS, state.cases.transitions)


def ratings(state: ReplayState) -> pa.Table:
    return from_tuples(RATINGS, state.cases.ratings)


def sla_outcomes(state: ReplayState) -> pa.Table:
    rows = [{**row, "outcome": outcome(row)} for row in state.sla.clocks.values()]
    return from_dicts(SLA_OUTCOMES, rows)


def escalations(state: ReplayState) -> pa.Table:
    return from_tuples(ESCALATIONS, state.escalations.rows)


def notifications(state: ReplayState) -> pa.Table:
    return from_dicts(NOTIFICATIONS, list(state.notifications.notifications.values()))


def whatif_outcomes(state: ReplayState, as_of: Micros) -> pa.Table:
    if state.whatif is None:
        raise ValueError("this replay ran without a what-if policy")
    return from_dicts(WHATIF_OUTCOMES, state.whatif.rows(as_of))


TABLES: dict[str, Callable[[ReplayState], pa.Table]] = {
    "cases": cases,
    "status_transitions": status_transitions,
    "ratings": ratings,
    "sla_outcomes": sla_outcomes,
    "escalations": escalations,
    "notifications": notifications,
}
