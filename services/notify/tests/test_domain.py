from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from casedesk_notify.domain import (
    CaseCard,
    Contacts,
    DeliveryChannel,
    Escalated,
    Fact,
    NoticeKind,
    NotifyPolicy,
    PublicReply,
    Registered,
    ReplyWindow,
    StatusChanged,
    apply,
    notices_for,
)
from casedesk_vocabulary.enums import ActorKind, ContactChannel, EscalationReason, Status, Tier
from casedesk_vocabulary.wording import EscalationNews, StatusNews, status_label

PHONE, EMAIL = "+79161234567", "ivanov@example.org"


@pytest.mark.parametrize(
    ("contacts", "channels"),
    [
        (
            Contacts(PHONE, EMAIL, ContactChannel.SMS_AND_EMAIL),
            [DeliveryChannel.EMAIL, DeliveryChannel.SMS],
        ),
        (Contacts(PHONE, EMAIL, ContactChannel.SMS), [DeliveryChannel.SMS]),
        (Contacts(PHONE, EMAIL, ContactChannel.EMAIL), [DeliveryChannel.EMAIL]),
        (Contacts("", EMAIL, ContactChannel.SMS_AND_EMAIL), [DeliveryChannel.EMAIL]),
        # The preferred channel has no address: the other known contact is better than silence.
        (Contacts("", EMAIL, ContactChannel.SMS), [DeliveryChannel.EMAIL]),
        (Contacts(PHONE, "", ContactChannel.EMAIL), [DeliveryChannel.SMS]),
        (Contacts("", "", ContactChannel.SMS_AND_EMAIL), []),
    ],
)
def test_channels_honour_the_stated_preference(
    contacts: Contacts, channels: list[DeliveryChannel]
) -> None:
    assert contacts.channels() == channels


def test_registered_starts_the_card_and_later_facts_move_it(card: CaseCard) -> None:
    started = apply(None, Registered(card))
    assert started == card
    moved = apply(started, StatusChanged(Status.IN_PROGRESS))
    assert moved is not None and moved.status is Status.IN_PROGRESS
    escalated = apply(moved, Escalated(Tier.L2, callback_required=False))
    assert escalated is not None and escalated.tier is Tier.L2
    assert escalated.contacts == card.contacts  # contacts survive events that do not carry them


def test_a_fact_about_an_unseen_case_has_no_card() -> None:
    assert apply(None, StatusChanged(Status.CLOSED)) is None


def test_every_fact_notifies_every_chosen_channel(card: CaseCard) -> None:
    policy = NotifyPolicy()
    facts: dict[NoticeKind, Fact] = {
        NoticeKind.ACKNOWLEDGEMENT: Registered(card),
        NoticeKind.STATUS_CHANGED: StatusChanged(Status.ANSWER_READY),
        NoticeKind.ESCALATED: Escalated(Tier.L3, callback_required=True),
        NoticeKind.PUBLIC_REPLY: PublicReply(),
    }
    for kind, fact in facts.items():
        notices = notices_for(card, fact, policy)
        assert [(n.kind, n.channel, n.recipient) for n in notices] == [
            (kind, DeliveryChannel.EMAIL, EMAIL),
            (kind, DeliveryChannel.SMS, PHONE),
        ]
    assert notices_for(card, facts[NoticeKind.ESCALATED], policy)[0].callback_required


def test_escalation_and_public_reply_notices_can_be_switched_off(card: CaseCard) -> None:
    quiet = NotifyPolicy(on_escalation=False, on_public_reply=False)
    assert notices_for(card, Escalated(Tier.L2, False), quiet) == []
    assert notices_for(card, PublicReply(), quiet) == []
    assert len(notices_for(card, StatusChanged(Status.CLOSED), quiet)) == 2


def test_sms_only_citizen_gets_only_sms(card: CaseCard) -> None:
    sms_only = dataclasses.replace(card, contacts=Contacts(PHONE, EMAIL, ContactChannel.SMS))
    notices = notices_for(sms_only, StatusChanged(Status.IN_PROGRESS), NotifyPolicy())
    assert [n.channel for n in notices] == [DeliveryChannel.SMS]


def test_status_labels_are_the_portal_wording() -> None:
    assert [status_label(s) for s in Status] == [
        "Зарегистрирована", "В работе", "Требуется уточнение", "Ответ готов", "Закрыта",
    ]  # fmt: skip


def test_a_status_notice_carries_who_acted() -> None:
    card = CaseCard("c", "1", Status.WAITING_FOR_CITIZEN, Contacts(PHONE, EMAIL))
    answered = StatusChanged(Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, ActorKind.CITIZEN)
    after = apply(card, answered)
    assert after is not None
    notices = notices_for(after, answered, NotifyPolicy())
    assert {n.status_news for n in notices} == {StatusNews.CITIZEN_ANSWERED}


@pytest.mark.parametrize("account", [True, False])
def test_an_answer_is_quoted_only_to_a_citizen_without_a_portal_account(account: bool) -> None:
    card = CaseCard("c", "1", Status.IN_PROGRESS, Contacts(PHONE, EMAIL), portal_account=account)
    ready = StatusChanged(Status.ANSWER_READY, Status.IN_PROGRESS, ActorKind.SPECIALIST)
    notices = notices_for(card, ready, NotifyPolicy(), replies=["Первый ответ", " ", "Второй"])
    assert {n.answer for n in notices} == {"" if account else "Первый ответ\n\nВторой"}
    assert {n.question for n in notices} == {""}
    reply = notices_for(card, PublicReply("Текст"), NotifyPolicy())
    assert {n.answer for n in reply} == {"" if account else "Текст"}


@pytest.mark.parametrize("account", [True, False])
def test_a_clarifications_question_is_the_citizens_to_read_either_way(account: bool) -> None:
    card = CaseCard("c", "1", Status.IN_PROGRESS, Contacts(PHONE, EMAIL), portal_account=account)
    asked = StatusChanged(Status.WAITING_FOR_CITIZEN, Status.IN_PROGRESS, ActorKind.SPECIALIST)
    notices = notices_for(card, asked, NotifyPolicy(), replies=["Какой оператор?"])
    assert {(n.question, n.answer) for n in notices} == {("Какой оператор?", "")}


def test_an_escalation_notice_says_why() -> None:
    card = CaseCard("c", "1", Status.IN_PROGRESS, Contacts(PHONE, EMAIL))
    breach = Escalated(Tier.L2, False, ActorKind.SYSTEM, EscalationReason.RESOLUTION_BREACH)
    notices = notices_for(card, breach, NotifyPolicy())
    assert {n.escalation_news for n in notices} == {EscalationNews.RESOLUTION_OVERDUE}


def test_an_acknowledgement_of_a_repeat_names_the_original() -> None:
    card = CaseCard("c", "2", Status.REGISTERED, Contacts(PHONE, EMAIL))
    notices = notices_for(card, Registered(card, "c0"), NotifyPolicy(), repeat_of="1")
    assert {(n.kind, n.repeat_of) for n in notices} == {(NoticeKind.ACKNOWLEDGEMENT, "1")}


def test_the_reply_window_collects_replies_into_answer_ready_and_clarifications_only() -> None:
    window = ReplyWindow(120)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert window.due(at) == at + timedelta(seconds=120)
    assert ReplyWindow(0).due(at) is None
    collecting = [s for s in Status if window.collects(StatusChanged(s))]
    assert collecting == [Status.WAITING_FOR_CITIZEN, Status.ANSWER_READY]
    assert not window.collects(PublicReply("x"))
    assert window.covers(at, at + timedelta(seconds=120))
    assert not window.covers(at, at + timedelta(seconds=120.001))
    assert window.covers(at, at - timedelta(seconds=2))  # the log's order counts, not clocks
    with pytest.raises(ValueError, match="negative"):
        ReplyWindow(-1)
