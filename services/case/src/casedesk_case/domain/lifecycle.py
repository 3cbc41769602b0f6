"""The case lifecycle: REGISTERED -> IN_PROGRESS <-> WAITING_FOR_CITIZEN -> ANSWER_READY -> CLOSED.

An answer may be prepared while the citizen is still asked for a clarification (the citizen may
never reply), so ANSWER_READY is reachable from both IN_PROGRESS and WAITING_FOR_CITIZEN.
Nothing leaves CLOSED, and an answered case is not reopened: an unsatisfied citizen repeats it as
a new case.

ANSWER_READY («Ответ готов») also needs an answer: a public comment by a specialist recorded after
the latest question the case puts to support. The questions (the latest one counts):
- the citizen's request itself (the case as registered, or as repeated: a new case);
- a comment by the citizen (a follow-up, or the reply to a clarification request);
- a clarification request (the move to WAITING_FOR_CITIZEN: what a specialist wrote before it
  asked, it did not answer; the answer given while the citizen stays silent comes after it);
- an escalation (the higher tier answers; the lower tier's "passed on to L2" is no answer).
Taking or reassigning a case is not a question: a reply the citizen already has stays the
answer, whoever gave it. An internal note (public=false) and a system comment are no answer.
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


# The questions a case's answer must come after (see the module docstring); a Case keeps the
# latest one still unanswered, "" once a specialist's public reply followed it.
QUESTION_REQUEST = "the citizen's request"
QUESTION_CITIZEN_COMMENT = "the citizen's latest comment"
QUESTION_CLARIFICATION = "the clarification request"


def question_of_escalation(tier_name: str) -> str:
    return f"the escalation to {tier_name}"


def allowed_from(status: Status) -> frozenset[Status]:
    return TRANSITIONS[status]


def check_transition(number: str, current: Status, requested: Status) -> None:
    """Raise IllegalTransition unless `requested` directly follows `current`."""
    allowed = TRANSITIONS[current]
    if requested not in allowed:
        raise IllegalTransition(number, current, requested, allowed)
