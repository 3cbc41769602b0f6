"""The end of a case: how it is closed, by whom, and what the citizen may do with the answer.

| closing | who | from | close reason |
|---|---|---|---|
| ChangeStatus CLOSE | a specialist | ANSWER_READY | CLOSED_BY_SPECIALIST |
| ConfirmAnswer | the citizen (through intake) | ANSWER_READY | ANSWER_CONFIRMED |
| no reaction | the system (the auto-closer) | ANSWER_READY, waited out (below) | NO_REACTION |
| CloseCase | a supervisor, with an explanation | any status but CLOSED | SPAM |
| MergeCases | a supervisor | any status but CLOSED | DUPLICATE |

A supervisor's closing skips the lifecycle on purpose: spam and duplicates need no answer.

**Waiting for the citizen's reaction.** At «Ответ готов» the citizen has the answer; unless he
reacts, the case is closed `period` after the case's latest change. Every change at ANSWER_READY
restarts the period: what the citizen does (a comment, a rating, a repeat, an escalation request)
and what support does in answer (a reply, a callback). The case is not closed at all while
- the citizen's latest comment, or an escalation, is unanswered (`Case.unanswered`): he asked
  something, and a specialist's public reply is owed before the period starts again;
- (PHONE) a callback is owed: a citizen who called has not heard the answer until he is called.

**Rating.** Once per case, 1 to 5 with an optional comment (at most MAX_RATING_COMMENT
characters), at ANSWER_READY or CLOSED, by the citizen; a case closed as spam or merged as a
duplicate has no answer of its own to rate. A rating changes the case (so it restarts the
period) but closes nothing: a citizen unhappy with the answer repeats the case or asks for an
escalation.

**Merging.** The duplicate and the target must be the same citizen's (`same_citizen`), the
target still open (not CLOSED, so not merged either), and different cases.
"""

from __future__ import annotations

from casedesk_case.domain.errors import InvalidCommand, NotPermitted
from casedesk_case.domain.values import ActorKind, Citizen, CloseReason, EventContext

MAX_RATING_COMMENT = 2_000
# A supervisor's explanation, a merge's reason, a callback's note: what the desk lets them write.
MAX_STAFF_TEXT = 10_000
SCORES = range(1, 6)
# Closings that are no answer: there is nothing to rate.
UNANSWERED_CLOSINGS = frozenset({CloseReason.SPAM, CloseReason.DUPLICATE})


def check_citizen(context: EventContext, action: str) -> None:
    """The citizen's own acts on the answer: intake acts for him, nobody else does."""
    if context.actor.kind is not ActorKind.CITIZEN:
        raise NotPermitted(
            f"only the citizen may {action} (through intake, actor CITIZEN); "
            f"{context.actor.kind.value} may not"
        )


def check_rating(score: int, comment: str) -> None:
    if score not in SCORES:
        raise InvalidCommand("score", f"must be 1 to 5, not {score}")
    check_length("comment", comment, MAX_RATING_COMMENT)


def check_length(field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidCommand(field, f"must be at most {limit:,} characters, not {len(text):,}")


def check_explanation(explanation: str) -> None:
    if not explanation.strip():
        raise InvalidCommand("explanation", "say why the case is closed: it is required")
    check_length("explanation", explanation, MAX_STAFF_TEXT)


def same_citizen(one: Citizen, other: Citizen) -> bool:
    """Whether two cases are the same citizen's: by the portal login when both have one, else by
    SNILS, else by INN, where both have it. Nothing to compare: not shown to be the same."""
    for a, b in (
        (_login(one.account_login), _login(other.account_login)),
        (_digits(one.snils), _digits(other.snils)),
        (_digits(one.inn), _digits(other.inn)),
    ):
        if a and b:
            return a == b
    return False


def _login(login: str) -> str:
    return login.strip().casefold()


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())
