from __future__ import annotations

import dataclasses

import pytest

from casedesk_notify.domain import (
    CaseCard,
    CaseStatus,
    Channel,
    ContactPreference,
    Contacts,
    Escalated,
    NoticeKind,
    NotifyPolicy,
    PublicReply,
    Registered,
    StatusChanged,
    apply,
    notices_for,
)

PHONE, EMAIL = "+79161234567", "ivanov@example.org"


@pytest.mark.parametrize(
    ("contacts", "channels"),
    [
        (Contacts(PHONE, EMAIL, ContactPreference.BOTH), [Channel.EMAIL, Channel.SMS]),
        (Contacts(PHONE, EMAIL, ContactPreference.SMS), [Channel.SMS]),
        (Contacts(PHONE, EMAIL, ContactPreference.EMAIL), [Channel.EMAIL]),
        (Contacts("", EMAIL, ContactPreference.BOTH), [Channel.EMAIL]),
        # The preferred channel has no address: the other known contact is better than silence.
        (Contacts("", EMAIL, ContactPreference.SMS), [Channel.EMAIL]),
        (Contacts(PHONE, "", ContactPreference.EMAIL), [Channel.SMS]),
        (Contacts("", "", ContactPreference.BOTH), []),
    ],
)
def test_channels_honour_the_stated_preference(contacts: Contacts, channels: list[Channel]) -> None:
    assert contacts.channels() == channels


def test_registered_starts_the_card_and_later_facts_move_it(card: CaseCard) -> None:
    started = apply(None, Registered(card))
    assert started == card
    moved = apply(started, StatusChanged(CaseStatus.IN_PROGRESS))
    assert moved is not None and moved.status is CaseStatus.IN_PROGRESS
    escalated = apply(moved, Escalated("L2", callback_required=False))
    assert escalated is not None and escalated.tier == "L2"
    assert escalated.contacts == card.contacts  # contacts survive events that do not carry them


def test_a_fact_about_an_unseen_case_has_no_card() -> None:
    assert apply(None, StatusChanged(CaseStatus.CLOSED)) is None


def test_every_fact_notifies_every_chosen_channel(card: CaseCard) -> None:
    policy = NotifyPolicy()
    facts = {
        NoticeKind.ACKNOWLEDGEMENT: Registered(card),
        NoticeKind.STATUS_CHANGED: StatusChanged(CaseStatus.ANSWER_READY),
        NoticeKind.ESCALATED: Escalated("L3", callback_required=True),
        NoticeKind.PUBLIC_REPLY: PublicReply(),
    }
    for kind, fact in facts.items():
        notices = notices_for(card, fact, policy)
        assert [(n.kind, n.channel, n.recipient) for n in notices] == [
            (kind, Channel.EMAIL, EMAIL),
            (kind, Channel.SMS, PHONE),
        ]
    assert notices_for(card, facts[NoticeKind.ESCALATED], policy)[0].callback_required


def test_escalation_and_public_reply_notices_can_be_switched_off(card: CaseCard) -> None:
    quiet = NotifyPolicy(on_escalation=False, on_public_reply=False)
    assert notices_for(card, Escalated("L2", False), quiet) == []
    assert notices_for(card, PublicReply(), quiet) == []
    assert len(notices_for(card, StatusChanged(CaseStatus.CLOSED), quiet)) == 2


def test_sms_only_citizen_gets_only_sms(card: CaseCard) -> None:
    sms_only = dataclasses.replace(card, contacts=Contacts(PHONE, EMAIL, ContactPreference.SMS))
    notices = notices_for(sms_only, StatusChanged(CaseStatus.IN_PROGRESS), NotifyPolicy())
    assert [n.channel for n in notices] == [Channel.SMS]


def test_status_labels_are_the_portal_wording() -> None:
    assert [s.label for s in CaseStatus] == [
        "Зарегистрирована", "В работе", "Требуется уточнение", "Ответ готов", "Закрыта",
    ]  # fmt: skip
