"""A case and both its clocks as one flat row of plain values, and back into a table.

The row is the table's own layout written out: the case's fields (`CASE_FIELDS`), then the
first-response clock's columns, then the resolution clock's (`ClockTable.CLOCK_FIELDS` each). The
SQLite store keeps one such row per case; a replay's checkpoint keeps them by case id, because a
case's index in the table depends on the order in which the cases arrived.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from casedesk_sla.domain import trace_context
from casedesk_sla.domain.table import ClockTable

# `category`: the case's category ("" if none); `trace_context`: the packed W3C context of the
# event that set the clocks running (None if none); `correlation_id`: that event's correlation id
# ("" if none).
CASE_FIELDS = (
    "case_id", "channel", "category", "tier", "policy_version", "case_version", "trace_context",
    "correlation_id",
)  # fmt: skip
_FIRST = len(CASE_FIELDS)
_SECOND = _FIRST + len(ClockTable.CLOCK_FIELDS)
ROW_LENGTH = _SECOND + len(ClockTable.CLOCK_FIELDS)

CaseRow = tuple[Any, ...]


def case_row(table: ClockTable, case: int) -> CaseRow:
    packed = table.packed_trace(case)
    values: list[object] = [
        table.case_ids[case],
        table.channel_of(case),
        table.category_of(case),
        table.tier_of(case),
        table.policy_of(case),
        table.case_version[case],
        None if packed == trace_context.NONE else packed,
        table.correlation[case],
    ]
    columns = table.clock_columns()
    for slot in (2 * case, 2 * case + 1):
        values.extend(column[slot] for column in columns)
    return tuple(values)


def restore_rows(table: ClockTable, rows: Iterable[CaseRow]) -> int:
    """Add the case of every row to the table; returns the number of rows.

    A row stored by a release that kept no trace context or correlation id has None there: its
    alarms fire without one, as they would have then. A row of another layout (a replay's
    checkpoint written by another release) raises ValueError.
    """
    columns = table.clock_columns()
    count = 0
    for row in rows:
        if len(row) != ROW_LENGTH:
            raise ValueError(
                f"a clock row of {len(row)} values, this release's have {ROW_LENGTH}: "
                "written by another release"
            )
        case_id, channel, category, tier, policy, version, trace, correlation = row[:_FIRST]
        case = table.add_case(case_id, channel, tier, policy, version, category=category)
        if trace is not None:
            table.set_packed_trace(case, trace)
        table.correlation[case] = correlation or ""
        first, second = 2 * case, 2 * case + 1
        for column, mine, other in zip(columns, row[_FIRST:_SECOND], row[_SECOND:], strict=True):
            column[first] = mine
            column[second] = other
        table.count_restored(case)
        count += 1
    return count
