"""The vocabulary agrees with the protobuf contract, and reads the same to every citizen."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import pytest

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_vocabulary import enums, topics, wording
from casedesk_vocabulary.moscow import from_micros, to_micros

# Each domain enum, the proto enum it mirrors, and the prefix the proto puts on member names.
MIRRORS = [
    (enums.Status, types_pb2.Status, ""),
    (enums.Channel, types_pb2.Channel, ""),
    (enums.CaseType, types_pb2.CaseType, ""),
    (enums.Category, types_pb2.Category, ""),
    (enums.Tier, types_pb2.Tier, ""),
    (enums.Priority, types_pb2.Priority, ""),
    (enums.ContactChannel, types_pb2.ContactChannel, "CONTACT_"),
    (enums.ActorKind, types_pb2.Actor.Kind, ""),
    (enums.EscalationReason, events_pb2.EscalationReason, ""),
    (enums.DeadlineTarget, sla_pb2.Target, ""),
    (enums.CloseReason, events_pb2.CloseReason, ""),
]


@pytest.mark.parametrize(
    ("domain", "proto", "prefix"), MIRRORS, ids=lambda m: getattr(m, "__name__", "")
)
def test_every_domain_enum_is_its_proto_enum_member_for_member(
    domain: type[Enum], proto: object, prefix: str
) -> None:
    members = proto.keys()  # type: ignore[attr-defined]
    names = [name for name in members if not name.endswith("UNSPECIFIED")]
    expected = [name.removeprefix(prefix) for name in names]
    actual = [m.name for m in domain if m.name != "UNSPECIFIED"]
    assert actual == expected
    assert all(member.value == member.name for member in domain)


def test_tiers_are_ordered_and_know_the_next_one_up() -> None:
    assert enums.Tier.L1 < enums.Tier.L2 < enums.Tier.L3
    assert max(enums.Tier) is enums.Tier.L3
    assert enums.Tier.L1.above() is enums.Tier.L2 and enums.Tier.L3.above() is None


def test_every_status_and_tier_has_its_words() -> None:
    assert set(wording.STATUS_LABELS) == set(enums.Status)
    assert set(wording.TIER_NAMES) == set(enums.Tier) == set(wording.TIER_ESCALATED_TO)
    assert wording.status_label("WAITING_FOR_CITIZEN") == "Требуется уточнение"
    assert wording.status_label(enums.Status.ANSWER_READY) == "Ответ готов"
    assert wording.status_label("NO_SUCH_STATUS") == "Статус уточняется"


def test_a_deadline_at_midnight_is_the_end_of_the_previous_day_in_moscow() -> None:
    midnight = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # 00:00 of 5 December in Moscow
    assert wording.deadline_phrase(midnight) == "до конца дня 04.12.2026 (мск)"
    assert wording.deadline_phrase_short(midnight) == "до конца дня 04.12 мск"
    afternoon = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert wording.deadline_phrase(afternoon) == "до 05.12.2026 15:00 (мск)"
    assert wording.deadline_phrase_short(afternoon) == "до 05.12 15:00 мск"


def test_instants_round_trip_through_microseconds_exactly() -> None:
    moment = datetime(2026, 12, 3, 13, 14, 15, 123456, tzinfo=UTC)
    assert to_micros(moment) == 1_796_303_655_123_456
    assert from_micros(to_micros(moment)) == moment
    with pytest.raises(ValueError, match="naive"):
        to_micros(datetime(2026, 12, 3))


def test_topic_names_and_their_settings() -> None:
    assert topics.CASE_EVENTS == "case.events.v1"
    assert set(topics.SETTINGS) == set(topics.ALL)
    assert topics.dlq_topic(topics.CASE_EVENTS, "notify") == "case.events.v1.dlq.notify"


S, A = enums.Status, enums.ActorKind


@pytest.mark.parametrize(
    ("before", "after", "actor", "news"),
    [
        (S.REGISTERED, S.IN_PROGRESS, A.SPECIALIST, wording.StatusNews.TAKEN_INTO_WORK),
        # The citizen's answer to a clarification is not a specialist starting work.
        (S.WAITING_FOR_CITIZEN, S.IN_PROGRESS, A.CITIZEN, wording.StatusNews.CITIZEN_ANSWERED),
        (None, S.IN_PROGRESS, A.CITIZEN, wording.StatusNews.CITIZEN_ANSWERED),
        (S.WAITING_FOR_CITIZEN, S.IN_PROGRESS, A.SPECIALIST, wording.StatusNews.WORK_RESUMED),
        (S.IN_PROGRESS, S.WAITING_FOR_CITIZEN, A.SPECIALIST,
         wording.StatusNews.CLARIFICATION_REQUESTED),
        (S.IN_PROGRESS, S.ANSWER_READY, A.SPECIALIST, wording.StatusNews.ANSWER_READY),
        (S.ANSWER_READY, S.CLOSED, A.SPECIALIST, wording.StatusNews.CLOSED_BY_SPECIALIST),
        (S.ANSWER_READY, S.CLOSED, A.SYSTEM, wording.StatusNews.CLOSED_AUTOMATICALLY),
        (S.ANSWER_READY, S.CLOSED, A.CITIZEN, wording.StatusNews.CLOSED_BY_CITIZEN),
        (S.ANSWER_READY, S.CLOSED, None, wording.StatusNews.CLOSED_BY_SPECIALIST),
        (None, S.REGISTERED, None, wording.StatusNews.REGISTERED),
    ],
)  # fmt: skip
def test_the_news_of_a_status_change_follows_who_made_it(
    before: enums.Status | None,
    after: enums.Status,
    actor: enums.ActorKind | None,
    news: wording.StatusNews,
) -> None:
    assert wording.status_news(before, after, actor) is news


def test_every_news_has_its_words_and_they_differ() -> None:
    assert set(wording.STATUS_NEWS) == set(wording.StatusNews)
    assert set(wording.STATUS_NEWS_SHORT) <= set(wording.StatusNews)
    assert len(set(wording.STATUS_NEWS.values())) == len(wording.StatusNews)
    answered = wording.STATUS_NEWS[wording.StatusNews.CITIZEN_ANSWERED]
    assert "ответ" in answered and "получен" in answered
    assert "приступил" not in answered
    assert set(wording.ESCALATION_NEWS) == set(wording.EscalationNews)
    # Every way a case is closed says who closed it, short and long.
    closing = [n for n in wording.StatusNews if n.name.startswith("CLOSED_")]
    assert len({wording.STATUS_NEWS_SHORT[n] for n in closing}) == len(closing) == 5


R = enums.EscalationReason


@pytest.mark.parametrize(
    ("actor", "reason", "news"),
    [
        (A.SYSTEM, R.FIRST_RESPONSE_BREACH, wording.EscalationNews.FIRST_RESPONSE_OVERDUE),
        (A.SPECIALIST, R.RESOLUTION_BREACH, wording.EscalationNews.RESOLUTION_OVERDUE),
        (A.SPECIALIST, R.CRITICAL_ERROR, wording.EscalationNews.BY_SPECIALIST),
        (A.SYSTEM, R.UNSATISFYING_ANSWER, wording.EscalationNews.AT_CITIZENS_REQUEST),
        (None, R.NO_ANSWER_IN_TIME, None),
    ],
)
def test_the_news_of_an_escalation_says_why(
    actor: enums.ActorKind | None,
    reason: enums.EscalationReason,
    news: wording.EscalationNews | None,
) -> None:
    assert wording.escalation_news(actor, reason) is news


def test_a_repeat_names_the_case_it_repeats() -> None:
    phrase = wording.repeated_case_phrase("2026-0000042")
    assert phrase == "Это повторное обращение по обращению № 2026-0000042."


C = enums.CloseReason


@pytest.mark.parametrize(
    ("reason", "actor", "news"),
    [
        (C.ANSWER_CONFIRMED, A.CITIZEN, wording.StatusNews.CLOSED_BY_CITIZEN),
        (C.NO_REACTION, A.SYSTEM, wording.StatusNews.CLOSED_AUTOMATICALLY),
        (C.CLOSED_BY_SPECIALIST, A.SPECIALIST, wording.StatusNews.CLOSED_BY_SPECIALIST),
        # A supervisor's closing is a specialist's act, yet no answer: the reason tells.
        (C.SPAM, A.SPECIALIST, wording.StatusNews.CLOSED_AS_SPAM),
        (C.DUPLICATE, A.SPECIALIST, wording.StatusNews.CLOSED_AS_DUPLICATE),
    ],
)
def test_the_news_of_a_closing_follows_its_reason(
    reason: enums.CloseReason, actor: enums.ActorKind, news: wording.StatusNews
) -> None:
    assert wording.status_news(S.ANSWER_READY, S.CLOSED, actor, close_reason=reason) is news


def test_close_reasons_and_callback_purposes_have_their_words() -> None:
    assert set(wording.CLOSE_REASON_LABELS) == set(enums.CloseReason)
    assert len(set(wording.CLOSE_REASON_LABELS.values())) == len(enums.CloseReason)
    assert wording.close_reason_label("SPAM") == wording.CLOSE_REASON_LABELS[C.SPAM]
    assert wording.close_reason_label(C.DUPLICATE).startswith("Объединено")
    # Closed before close reasons existed, or a reason newer than the reader: no words.
    assert wording.close_reason_label(None) == wording.close_reason_label("LATER") == ""
    purposes = enums.CallbackPurpose
    assert set(wording.CALLBACK_PURPOSE_LABELS) == set(purposes)
    assert (
        wording.callback_purpose_label("ANSWER") == wording.CALLBACK_PURPOSE_LABELS[purposes.ANSWER]
    )
    assert wording.callback_purpose_label("") == ""
