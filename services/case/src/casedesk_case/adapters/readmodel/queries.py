"""The case index's read statements, with `?` placeholders, the same on SQLite and PostgreSQL.

Every read joins the case timeline's `case_sla` on the case id (its primary key) to carry each
case's clock. The deadline order is two queries, run until the page is full: the cases whose
clock runs, walked in deadline order along a partial index of `case_sla` (only running clocks:
the table keeps a row for every case ever clocked), then the others by registration. Sorting
every open case of a queue for each page instead cost 20-30 ms at 10,000 open cases.
"""

from __future__ import annotations

from typing import Any

from casedesk_case.adapters.readmodel.page_tokens import DEADLINE_STATES, decode_page_token
from casedesk_case.application.timeline import ClockState
from casedesk_case.application.views import CaseFilter, CaseOrder
from casedesk_case.domain.lifecycle import OPEN_WORK
from casedesk_case.domain.values import Status

_CLOCK = (
    "s.target AS sla_target, s.state AS sla_state, s.due_us AS sla_due_us, "
    "s.started_us AS sla_started_us"
)


def clock_runs(alias: str = "s.") -> str:
    """A clock with a deadline to order by; also the predicate of the partial index that
    serves the order (the database uses it when a query's condition is the same)."""
    states = ", ".join(f"'{s.value}'" for s in sorted(DEADLINE_STATES, key=lambda s: s.value))
    return f"{alias}due_us IS NOT NULL AND {alias}state IN ({states})"


# The search terms of cases' citizens (application/search_terms.py): keyed hashes only.
TERMS_TABLE = "case_search_terms"

_RUNS = f"({clock_runs()})"
_OPEN = "c.status IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(OPEN_WORK, key=str)))


def summaries_statement(cases: str, sla: str, count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        f"SELECT c.*, {_CLOCK} FROM {cases} c LEFT JOIN {sla} s ON s.case_id = c.case_id "
        f"WHERE c.case_id IN ({marks})"
    )


def clocks_statement(sla: str, count: int) -> str:
    """Cases' clocks straight from the timeline's table, whether the index has their rows yet."""
    marks = ", ".join("?" * count)
    return (
        "SELECT case_id, target AS sla_target, state AS sla_state, due_us AS sla_due_us, "
        f"started_us AS sla_started_us FROM {sla} WHERE case_id IN ({marks})"
    )


def search_statements(
    cases: str, sla: str, criteria: CaseFilter, page_token: str, terms: str = TERMS_TABLE
) -> list[tuple[str, list[object]]]:
    """The page's queries, each without its LIMIT value (the last parameter, to be appended):
    run in order until the page is full."""
    where, params = _conditions(criteria, terms)
    after = decode_page_token(page_token, criteria.order)
    if criteria.order is CaseOrder.CALLBACK:
        return [_by_callback(cases, sla, where, params, after)]
    if criteria.order is CaseOrder.REGISTRATION:
        if after is not None:
            where.append("(c.registered_us < ? OR (c.registered_us = ? AND c.case_id < ?))")
            params += [after[0], after[0], after[1]]
        return [(
            f"SELECT c.*, {_CLOCK} FROM {cases} c LEFT JOIN {sla} s ON s.case_id = c.case_id "
            f"{_where(where)}ORDER BY c.registered_us DESC, c.case_id DESC LIMIT ?",
            params,
        )]  # fmt: skip
    statements = []
    if after is None or after[0] == 0:
        statements.append(_with_deadline(cases, sla, where, params, after))
    statements.append(_without_deadline(cases, sla, where, params, after))
    return statements


def _with_deadline(
    cases: str, sla: str, where: list[str], params: list[object], after: tuple[Any, ...] | None
) -> tuple[str, list[object]]:
    """The cases whose clock runs, nearest deadline first: walked along the partial index of
    running deadlines (index_statements), each row looked up by its case id, so a page reads
    about as many rows as it shows unless the criteria are very selective."""
    where, params = [_RUNS, *where], [*params]
    if after is not None:
        _, due_us, registered_us, case_id = after
        # The plain bound lets the database start the index walk there.
        where.append("s.due_us >= ? AND (s.due_us, c.registered_us, c.case_id) > (?, ?, ?)")
        params += [due_us, due_us, registered_us, case_id]
    return (
        f"SELECT c.*, {_CLOCK} FROM {sla} s JOIN {cases} c ON c.case_id = s.case_id "
        f"{_where(where)}ORDER BY s.due_us, c.registered_us, c.case_id LIMIT ?"
    ), params


def _without_deadline(
    cases: str, sla: str, where: list[str], params: list[object], after: tuple[Any, ...] | None
) -> tuple[str, list[object]]:
    """The cases without a running clock, the longest waiting first."""
    where, params = [*where, f"NOT ({_RUNS})"], [*params]
    if after is not None and after[0] == 1:
        _, _, registered_us, case_id = after
        where.append("c.registered_us >= ? AND (c.registered_us, c.case_id) > (?, ?)")
        params += [registered_us, registered_us, case_id]
    return (
        f"SELECT c.*, {_CLOCK} FROM {cases} c LEFT JOIN {sla} s ON s.case_id = c.case_id "
        f"{_where(where)}ORDER BY c.registered_us, c.case_id LIMIT ?"
    ), params


def _by_callback(
    cases: str, sla: str, where: list[str], params: list[object], after: tuple[Any, ...] | None
) -> tuple[str, list[object]]:
    """The callbacks owed, earliest due first, along the partial index of callbacks."""
    where, params = ["c.callback_due_us IS NOT NULL", *where], [*params]
    if after is not None:
        due_us, registered_us, case_id = after
        where.append(
            "c.callback_due_us >= ? AND (c.callback_due_us, c.registered_us, c.case_id) > (?, ?, ?)"
        )
        params += [due_us, due_us, registered_us, case_id]
    return (
        f"SELECT c.*, {_CLOCK} FROM {cases} c LEFT JOIN {sla} s ON s.case_id = c.case_id "
        f"{_where(where)}ORDER BY c.callback_due_us, c.registered_us, c.case_id LIMIT ?"
    ), params


def desk_load_statements(
    cases: str, sla: str, roster_ids: frozenset[str]
) -> tuple[tuple[str, list[object]], tuple[str, list[object]]]:
    """Open cases per (tier, queue) and per assignee, with their parameters."""
    unheld, params = _unheld(sorted(roster_ids))
    by_queue = (
        f"SELECT c.tier, c.queue, COUNT(*) AS open_cases, "
        f"SUM(CASE WHEN {unheld} THEN 1 ELSE 0 END) AS unassigned, "
        f"SUM(CASE WHEN s.state = '{ClockState.BREACHED.value}' THEN 1 ELSE 0 END) AS breached "
        f"FROM {cases} c LEFT JOIN {sla} s ON s.case_id = c.case_id "
        f"WHERE {_OPEN} GROUP BY c.tier, c.queue"
    )
    by_assignee = (
        "SELECT c.assignee, COUNT(*) AS open_cases, "
        f"SUM(CASE WHEN c.status = '{Status.WAITING_FOR_CITIZEN.value}' THEN 1 ELSE 0 END) "
        f"AS waiting FROM {cases} c WHERE {_OPEN} AND c.assignee <> '' GROUP BY c.assignee"
    )
    return (by_queue, params), (by_assignee, [])


def _unheld(roster_ids: list[str]) -> tuple[str, list[object]]:
    """Held by nobody: no assignee, or a roster id (routed to a slot, not taken by a person)."""
    if not roster_ids:
        return "c.assignee = ''", []
    return f"(c.assignee = '' OR c.assignee IN ({', '.join('?' * len(roster_ids))}))", [*roster_ids]


def _conditions(criteria: CaseFilter, terms: str) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if criteria.citizen_term:
        # A citizen's cases by his identifier's search term (its primary key's first column).
        where.append(f"c.case_id IN (SELECT t.case_id FROM {terms} t WHERE t.term = ?)")
        params.append(criteria.citizen_term)
    for column, value in (
        ("citizen_login", criteria.citizen_login),
        ("status", criteria.status.value if criteria.status else ""),
        ("queue", criteria.queue),
        ("channel", criteria.channel.value if criteria.channel else ""),
        ("tier", criteria.tier.value if criteria.tier else ""),
        ("category", criteria.category.value if criteria.category else ""),
    ):
        if value:
            where.append(f"c.{column} = ?")
            params.append(value)
    if criteria.assignee:
        assignees = [criteria.assignee, *sorted(criteria.assignee_slots)]
        where.append(f"c.assignee IN ({', '.join('?' * len(assignees))})")
        params += assignees
    if criteria.open_only and criteria.status is None:
        where.append(_OPEN)
    if criteria.within_tiers is not None:
        tiers = sorted(t.value for t in criteria.within_tiers)
        where.append(f"c.tier IN ({', '.join('?' * len(tiers))})" if tiers else "1 = 0")
        params += tiers
    if criteria.callback_owed:
        where.append("c.callback_due_us IS NOT NULL")
    if criteria.unassigned:
        unheld, unheld_params = _unheld(sorted(criteria.roster_ids))
        where.append(unheld)
        params += unheld_params
    return where, params


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)} " if conditions else ""
