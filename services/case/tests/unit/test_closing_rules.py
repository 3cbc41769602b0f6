"""The end of a case in the aggregate: confirming, rating, spam, merging, waiting for a reaction
(domain/closing.py), and repeating an overdue case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.application import project_aggregate

from casedesk_case.domain.case import Case
from casedesk_case.domain.closing import same_citizen
from casedesk_case.domain.errors import (
    CaseClosed,
    InvalidCommand,
    NotPermitted,
    PreconditionFailed,
)
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    Channel,
    Citizen,
    CloseReason,
    EventContext,
    Status,
)

from .test_lifecycle import CONTEXT, case_in, new_case, reply

CITIZEN = EventContext(Actor(ActorKind.CITIZEN, "petrov"))
SYSTEM = EventContext(Actor(ActorKind.SYSTEM, "case-auto-close"))
WEEK = timedelta(days=7)


def case_of(citizen: Citizen, channel: Channel = Channel.PORTAL_CHAT) -> Case:
    case = new_case()
    return Case(
        number="2026-0000002", channel=channel, case_type=case.case_type,
        category=case.category, queue=case.queue, tier=case.tier, priority=case.priority,
        citizen=citizen, content=case.content, origin=case.origin, attachments=[],
        repeat_of="", linked_to="", context=CONTEXT,
    )  # fmt: skip


def answered() -> Case:
    return case_in(Status.ANSWER_READY)


def last(case: Case) -> object:
    return case.pending_events[-1]


# -- confirming -------------------------------------------------------------------------------


def test_the_citizen_confirms_the_answer_and_the_case_closes() -> None:
    case = answered()
    case.confirm_answer(CITIZEN)
    closed = last(case)
    assert isinstance(closed, Case.StatusChanged)
    assert (closed.from_status, closed.to_status) == (Status.ANSWER_READY, Status.CLOSED)
    assert closed.close_reason is CloseReason.ANSWER_CONFIRMED
    assert (case.status, case.close_reason) == (Status.CLOSED, CloseReason.ANSWER_CONFIRMED)


@pytest.mark.parametrize(
    "status", [Status.REGISTERED, Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, Status.CLOSED]
)
def test_only_an_answer_at_answer_ready_is_confirmed(status: Status) -> None:
    with pytest.raises(PreconditionFailed, match=f"is {status.value}: only an answer"):
        case_in(status).confirm_answer(CITIZEN)


@pytest.mark.parametrize("context", [CONTEXT, SYSTEM])
def test_nobody_but_the_citizen_confirms(context: EventContext) -> None:
    with pytest.raises(NotPermitted, match="only the citizen may confirm the answer"):
        answered().confirm_answer(context)


# -- rating -----------------------------------------------------------------------------------


def test_the_citizen_rates_the_answer_once_also_after_closing() -> None:
    case = case_in(Status.CLOSED)
    case.rate_answer(4, "помогло, но долго", Channel.EMAIL, CITIZEN)
    rated = last(case)
    assert isinstance(rated, Case.AnswerRated)
    assert (rated.score, rated.comment, rated.channel) == (4, "помогло, но долго", Channel.EMAIL)
    assert case.rating is not None
    assert (case.rating.score, case.rating.at) == (4, rated.timestamp)
    with pytest.raises(PreconditionFailed, match="already rated"):
        case.rate_answer(5, "", None, CITIZEN)


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_one_to_five_is_invalid(score: int) -> None:
    with pytest.raises(InvalidCommand) as refused:
        answered().rate_answer(score, "", None, CITIZEN)
    assert refused.value.field == "score"


def test_a_comment_over_two_thousand_characters_is_invalid() -> None:
    answered().rate_answer(3, "я" * 2000, None, CITIZEN)
    with pytest.raises(InvalidCommand) as refused:
        answered().rate_answer(3, "я" * 2001, None, CITIZEN)
    assert refused.value.field == "comment"


@pytest.mark.parametrize(
    "status", [Status.REGISTERED, Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN]
)
def test_no_rating_before_an_answer(status: Status) -> None:
    with pytest.raises(PreconditionFailed, match="only an answer"):
        case_in(status).rate_answer(5, "", None, CITIZEN)


def test_a_case_closed_as_spam_has_no_answer_to_rate() -> None:
    case = new_case()
    case.close_as_spam("реклама", CONTEXT)
    with pytest.raises(PreconditionFailed, match="closed as SPAM without an answer"):
        case.rate_answer(1, "", None, CITIZEN)


def test_only_the_citizen_rates() -> None:
    with pytest.raises(NotPermitted, match="only the citizen may rate"):
        answered().rate_answer(5, "", None, CONTEXT)


# -- spam -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.REGISTERED, Status.IN_PROGRESS, Status.ANSWER_READY])
def test_a_supervisor_closes_spam_from_any_open_status_with_the_explanation(
    status: Status,
) -> None:
    case = case_in(status)
    case.close_as_spam("рассылка рекламы", CONTEXT)
    closed = last(case)
    assert isinstance(closed, Case.StatusChanged)
    assert (closed.from_status, closed.to_status, closed.reason) == (
        status, Status.CLOSED, "рассылка рекламы",
    )  # fmt: skip
    assert closed.close_reason is CloseReason.SPAM


@pytest.mark.parametrize("explanation", ["", "   "])
def test_spam_needs_an_explanation(explanation: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_case().close_as_spam(explanation, CONTEXT)
    assert refused.value.field == "explanation"


def test_a_closed_case_is_not_closed_again() -> None:
    with pytest.raises(CaseClosed, match="cannot close it again"):
        case_in(Status.CLOSED).close_as_spam("спам", CONTEXT)


def test_the_specialists_close_records_its_reason() -> None:
    case = case_in(Status.CLOSED)
    closed = case.pending_events[-1]
    assert isinstance(closed, Case.StatusChanged)
    assert closed.close_reason is CloseReason.CLOSED_BY_SPECIALIST
    assert case.close_reason is CloseReason.CLOSED_BY_SPECIALIST


# -- merging ----------------------------------------------------------------------------------


def test_a_duplicate_is_merged_into_the_same_citizens_case() -> None:
    duplicate, target = new_case(), case_in(Status.IN_PROGRESS)
    duplicate.merge_into(target, "то же обращение повторно", CONTEXT)
    merged, closed = duplicate.pending_events[-2:]
    assert isinstance(merged, Case.MergedInto) and isinstance(closed, Case.StatusChanged)
    assert (merged.target_case_id, merged.target_number) == (str(target.id), target.number)
    assert (closed.to_status, closed.close_reason) == (Status.CLOSED, CloseReason.DUPLICATE)
    taken = last(target)
    assert isinstance(taken, Case.DuplicateMerged)
    assert (taken.duplicate_case_id, taken.duplicate_number) == (str(duplicate.id), "2026-0000001")
    assert (duplicate.merged_into, target.merged_duplicates) == (
        str(target.id),
        (str(duplicate.id),),
    )


def test_a_case_is_not_merged_into_itself() -> None:
    case = new_case()
    with pytest.raises(InvalidCommand, match="into itself") as refused:
        case.merge_into(case, "", CONTEXT)
    assert refused.value.field == "target_case_id"


def test_nothing_is_merged_into_a_closed_or_merged_case() -> None:
    merged, target = new_case(), new_case()
    merged.merge_into(target, "", CONTEXT)
    with pytest.raises(InvalidCommand, match="is merged into") as into_merged:
        new_case().merge_into(merged, "", CONTEXT)
    with pytest.raises(InvalidCommand, match="is closed: merge into an open case") as into_closed:
        new_case().merge_into(case_in(Status.CLOSED), "", CONTEXT)
    assert into_merged.value.field == into_closed.value.field == "target_case_id"


def test_another_citizens_case_is_no_target() -> None:
    duplicate, target = new_case(), case_of(Citizen(account_login="sidorov"))
    with pytest.raises(InvalidCommand, match="same citizen's") as refused:
        duplicate.merge_into(target, "", CONTEXT)
    assert refused.value.field == "target_case_id"
    assert duplicate.pending_events[-1].__class__ is Case.Created  # nothing recorded


def test_a_closed_duplicate_is_not_merged() -> None:
    with pytest.raises(CaseClosed, match="cannot merge it"):
        case_in(Status.CLOSED).merge_into(new_case(), "", CONTEXT)


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (Citizen(account_login="Petrov"), Citizen(account_login="petrov "), True),
        # Logins differ: another citizen, whatever else matches.
        (Citizen(account_login="petr", snils="1"), Citizen(account_login="ivan", snils="1"), False),
        # Without a login on one side: SNILS, whatever its punctuation; else INN.
        (Citizen(snils="112-233-445 95"), Citizen(account_login="p", snils="11223344595"), True),
        (Citizen(inn="500100732259"), Citizen(inn="500100732259", snils="11223344595"), True),
        (Citizen(snils="11223344595"), Citizen(snils="11223344596"), False),
        (Citizen(full_name="Петров"), Citizen(full_name="Петров"), False),  # nothing to compare
    ],
)  # fmt: skip
def test_the_same_citizen_is_known_by_login_else_snils_else_inn(
    one: Citizen, other: Citizen, same: bool
) -> None:
    assert same_citizen(one, other) is same


# -- waiting for the citizen's reaction -------------------------------------------------------


def test_an_answer_nobody_reacts_to_is_closed_after_the_period() -> None:
    case = answered()
    since = case.waiting_for_reaction_since()
    assert since == case.modified_on
    with pytest.raises(PreconditionFailed, match="waits for the citizen's reaction until"):
        case.close_without_reaction(WEEK, since + WEEK - timedelta(seconds=1), SYSTEM)
    case.close_without_reaction(WEEK, since + WEEK, SYSTEM)
    closed = last(case)
    assert isinstance(closed, Case.StatusChanged)
    assert (closed.to_status, closed.close_reason) == (Status.CLOSED, CloseReason.NO_REACTION)
    assert closed.context.actor.kind is ActorKind.SYSTEM


def test_a_citizens_question_stops_the_wait_until_a_reply_restarts_it() -> None:
    case = answered()
    case.comment("c2", "а где справка?", True, [], CITIZEN)
    assert case.status is Status.ANSWER_READY and case.waiting_for_reaction_since() is None
    with pytest.raises(PreconditionFailed, match="does not wait"):
        case.close_without_reaction(WEEK, case.modified_on + 2 * WEEK, SYSTEM)
    reply(case)
    assert case.waiting_for_reaction_since() == case.modified_on  # counted from the reply


def test_any_change_at_answer_ready_restarts_the_period() -> None:
    case = answered()
    first = case.waiting_for_reaction_since()
    case.rate_answer(2, "", None, CITIZEN)
    assert first is not None and case.waiting_for_reaction_since() == case.modified_on > first


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, Status.CLOSED])
def test_only_an_answer_waits_for_a_reaction(status: Status) -> None:
    case = case_in(status)
    assert case.waiting_for_reaction_since() is None
    with pytest.raises(PreconditionFailed, match="does not wait"):
        case.close_without_reaction(WEEK, case.modified_on + 2 * WEEK, SYSTEM)


# -- repeating --------------------------------------------------------------------------------


def test_an_overdue_case_is_repeated_before_any_answer() -> None:
    case = case_in(Status.IN_PROGRESS)
    with pytest.raises(PreconditionFailed, match="within its deadlines: only an answered case"):
        case.record_repeat("new-id", "2026-0000002", "нет ответа", CITIZEN)
    case.record_repeat("new-id", "2026-0000002", "нет ответа", CITIZEN, overdue=True)
    assert case.repeated_by == ["new-id"] and case.status is Status.IN_PROGRESS


# -- rebuilt from the events ------------------------------------------------------------------


def test_the_case_rebuilt_from_its_events_is_the_same() -> None:
    duplicate, target = new_case(), answered()
    target.rate_answer(5, "спасибо", Channel.PORTAL_CHAT, CITIZEN)
    duplicate.merge_into(target, "", CONTEXT)
    for case in (duplicate, target):
        rebuilt = project_aggregate(None, list(case.collect_events()))
        assert isinstance(rebuilt, Case)
        fields = ("status", "close_reason", "rating", "merged_into", "merged_duplicates")
        assert {f: getattr(rebuilt, f) for f in fields} == {f: getattr(case, f) for f in fields}
