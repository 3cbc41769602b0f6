"""The case lifecycle: REGISTERED -> IN_PROGRESS <-> WAITING_FOR_CITIZEN -> ANSWER_READY -> CLOSED.

An answer may be prepared while the citizen is still asked for a clarification (the citizen may
never reply), so ANSWER_READY is reachable from both IN_PROGRESS and WAITING_FOR_CITIZEN.
Nothing leaves CLOSED, and an answered case is not reopened: an unsatisfied citizen repeats it as
a new case.
"""

from __future__ import annotations

from collections.abc import Mapping

from casedesk_case.domain.errors import IllegalTransition
from casedesk_case.domain.values import Status

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.REGISTERED: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_FOR_CITIZEN, Status.ANSWER_READY}),
    Status.WAITING_FOR_CITIZEN: frozenset({Status.IN_PROGRESS, Status.ANSWER_READY}),
    Status.ANSWER_READY: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# Statuses in which the case still needs a specialist's work; they count towards load.
OPEN_WORK: frozenset[Status] = frozenset(
    {Status.REGISTERED, Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN}
)

# An unsatisfying answer can only be repeated once there is an answer.
REPEATABLE: frozenset[Status] = frozenset({Status.ANSWER_READY, Status.CLOSED})


def allowed_from(status: Status) -> frozenset[Status]:
    return TRANSITIONS[status]


def check_transition(number: str, current: Status, requested: Status) -> None:
    """Raise IllegalTransition unless `requested` directly follows `current`."""
    allowed = TRANSITIONS[current]
    if requested not in allowed:
        raise IllegalTransition(number, current, requested, allowed)
