from __future__ import annotations

import dataclasses

import pytest

from casedesk_notify.domain import (
    CaseCard,
    Contacts,
    DeliveryChannel,
    Escalated,
    NoticeKind,
    NotifyPolicy,
    PublicReply,
    Registered,
    StatusChanged,
    apply,
    notices_for,
)
from casedesk_vocabulary.enums import ContactChannel, Status, Tier
from casedesk_vocabulary.wording import status_label

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
    facts = {
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
