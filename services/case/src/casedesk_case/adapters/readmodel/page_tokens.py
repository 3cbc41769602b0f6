"""ListCases orders, as sort keys, and page tokens: where the next page starts in each.

- registration (default): newest first, by (registered µs, case id) descending;
- deadline: cases with a clock that runs (running, warning, breached, or paused with its last
  deadline) first, nearest deadline first; the others after them, oldest registration first; by
  (0 or 1, deadline µs or 0, registered µs, case id) ascending;
- callback: the callbacks owed, earliest due first, by (due µs, registered µs, case id).

The last row's key is the token, so paging is keyset paging: a page never repeats or skips a case
that did not move meanwhile (the case id breaks every tie). A deadline or callback token names its
order, so a token of another order is refused rather than misread; registration tokens are as
before.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from casedesk_case.application.timeline import ClockState, SlaClock
from casedesk_case.application.views import CaseOrder, CaseSummary
from casedesk_case.domain.errors import InvalidCommand
from casedesk_vocabulary.moscow import to_micros

# The states in which a clock has a deadline that orders the queue (`case_sla.state` values).
DEADLINE_STATES = frozenset(
    {ClockState.RUNNING, ClockState.WARNING, ClockState.BREACHED, ClockState.PAUSED}
)
_DEADLINE = "deadline"
_CALLBACK = "callback"


def has_deadline(clock: SlaClock | None) -> bool:
    return clock is not None and clock.state in DEADLINE_STATES and clock.due_at is not None


def sort_key(summary: CaseSummary, order: CaseOrder) -> tuple[Any, ...]:
    """The row's place in `order` (ascending for the deadline, descending for registration)."""
    registered = to_micros(summary.registered_at)
    if order is CaseOrder.REGISTRATION:
        return (registered, summary.case_id)
    if order is CaseOrder.CALLBACK:
        due = to_micros(summary.callback.due) if summary.callback else 0
        return (due, registered, summary.case_id)
    clock = summary.clock
    if has_deadline(clock):
        assert clock is not None and clock.due_at is not None
        return (0, to_micros(clock.due_at), registered, summary.case_id)
    return (1, 0, registered, summary.case_id)


def encode_page_token(summary: CaseSummary, order: CaseOrder = CaseOrder.REGISTRATION) -> str:
    key = list(sort_key(summary, order))
    if order is CaseOrder.DEADLINE:
        key.insert(0, _DEADLINE)
    elif order is CaseOrder.CALLBACK:
        key.insert(0, _CALLBACK)
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_page_token(
    token: str, order: CaseOrder = CaseOrder.REGISTRATION
) -> tuple[Any, ...] | None:
    """The key after which the next page starts: (registered µs, case id), for the deadline
    order (0 or 1, deadline µs, registered µs, case id), for the callback order (due µs,
    registered µs, case id)."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        if order is CaseOrder.REGISTRATION:
            registered_us, case_id = key
            return int(registered_us), str(case_id)
        if order is CaseOrder.CALLBACK:
            name, due_us, registered_us, case_id = key
            if name != _CALLBACK:
                raise ValueError(name)
            return int(due_us), int(registered_us), str(case_id)
        name, rank, due_us, registered_us, case_id = key
        if name != _DEADLINE or rank not in (0, 1):
            raise ValueError(name)
        return int(rank), int(due_us), int(registered_us), str(case_id)
    except (ValueError, TypeError):
        raise InvalidCommand(
            "page_token", f"is not a token from a previous page in the {order.value} order"
        ) from None
