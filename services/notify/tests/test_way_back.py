"""The answer goes back the way the question came (templates v2): in the citizen's e-mail thread,
on his social network (privately, or an invitation under a public post), and the SMS its gist."""

from __future__ import annotations

import dataclasses

import pytest

from casedesk_notify.adapters.rendering import SOCIAL_TEXT_CHARS, TemplateCatalog
from casedesk_notify.domain import (
    CaseCard,
    DeliveryChannel,
    EmailThread,
    Notice,
    NotifyPolicy,
    PublicReply,
    SocialThread,
    StatusChanged,
    apply,
    notices_for,
)
from casedesk_notify.domain.facts import Fact
from casedesk_vocabulary.enums import ActorKind, Status

E, S, SOC = DeliveryChannel.EMAIL, DeliveryChannel.SMS, DeliveryChannel.SOCIAL
ANSWER = "Код отправлен повторно.\nЕсли он не придёт за час, позвоните 8-800-100-70-10."
THREAD = EmailThread("CAF=1x@mail.example.org", "ivanov@example.org", "Не приходит SMS-код")
READY = StatusChanged(Status.ANSWER_READY, Status.IN_PROGRESS, ActorKind.SPECIALIST)
ASKING = StatusChanged(Status.WAITING_FOR_CITIZEN, Status.IN_PROGRESS, ActorKind.SPECIALIST)


def by_email(card: CaseCard, account: bool = False) -> CaseCard:
    return dataclasses.replace(card, email_thread=THREAD, portal_account=account)


def by_social(card: CaseCard, reference: str, private: bool) -> CaseCard:
    social = SocialThread("telegram", reference, private_message=private)
    return dataclasses.replace(card, social_thread=social, portal_account=False)


def told(card: CaseCard, fact: Fact, **context) -> dict[DeliveryChannel, Notice]:
    after = apply(card, fact)
    assert after is not None
    return {n.channel: n for n in notices_for(after, fact, NotifyPolicy(), **context)}


# -- e-mail: a reply in the citizen's own thread ------------------------------------------------


def test_the_answer_is_an_email_reply_in_his_thread_and_the_sms_its_gist(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    notices = told(by_email(card), READY, replies=[ANSWER])
    email, sms = catalog.render(notices[E]), catalog.render(notices[S])
    assert email.subject == "Re: Не приходит SMS-код [Обращение в службу поддержки - 2026-0001234]"
    assert (email.in_reply_to, email.references) == (
        "<CAF=1x@mail.example.org>", "<CAF=1x@mail.example.org>",
    )  # fmt: skip
    assert ANSWER in email.text and "личный кабинет" not in email.text
    assert sms.text.startswith("Обращение 2026-0001234: статус «Ответ готов». Ответ: Код")
    assert not sms.in_reply_to and SOC not in notices


def test_a_citizen_with_an_account_who_wrote_by_email_still_gets_the_answer_by_email(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    notices = told(by_email(card, account=True), PublicReply(ANSWER))
    email, sms = catalog.render(notices[E]), catalog.render(notices[S])
    assert ANSWER in email.text and email.in_reply_to == "<CAF=1x@mail.example.org>"
    assert "Ответ: " not in sms.text and "https://portal.test/cases/2026-0001234" in sms.text


def test_every_email_of_an_email_case_stays_in_the_thread(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    taken = StatusChanged(Status.IN_PROGRESS, Status.REGISTERED, ActorKind.SPECIALIST)
    email = catalog.render(told(by_email(card), taken)[E])
    assert email.subject.startswith("Re: Не приходит SMS-код [")
    assert email.in_reply_to == "<CAF=1x@mail.example.org>"


def test_another_mailbox_than_the_threads_gets_no_threading_headers(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    elsewhere = dataclasses.replace(THREAD, address="old-address@example.org")
    moved = dataclasses.replace(card, email_thread=elsewhere, portal_account=False)
    email = catalog.render(told(moved, READY, replies=[ANSWER])[E])
    assert email.subject == "Обращение в службу поддержки - 2026-0001234"
    assert email.in_reply_to == "" and ANSWER in email.text


def test_a_case_from_elsewhere_keeps_the_plain_subject(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    email = catalog.render(told(card, READY)[E])
    assert email.subject == "Обращение в службу поддержки - 2026-0001234"
    assert (email.in_reply_to, email.references) == ("", "")


# -- social networks ------------------------------------------------------------------------------


def test_a_private_message_gets_the_answer(catalog: TemplateCatalog, card: CaseCard) -> None:
    notice = told(by_social(card, "123456789:42", private=True), READY, replies=[ANSWER])[SOC]
    assert notice.recipient == "telegram:123456789:42" and notice.private
    text = catalog.render(notice).text
    assert "Ответ на ваше обращение № 2026-0001234 готов" in text and ANSWER in text


def test_a_private_message_gets_the_question_of_a_clarification(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    question = "Уточните, пожалуйста, оператора связи."
    notice = told(by_social(card, "123456789:42", private=True), ASKING, replies=[question])[SOC]
    text = catalog.render(notice).text
    assert question in text and "Ответьте, пожалуйста, на это сообщение" in text


@pytest.mark.parametrize("fact", [READY, PublicReply(ANSWER)], ids=["merged", "alone"])
def test_a_public_post_gets_an_invitation_without_the_answer_or_personal_data(
    catalog: TemplateCatalog, card: CaseCard, fact: Fact
) -> None:
    public = by_social(card, "-1001234567890:7", private=True)  # a group, whatever was said
    notice = told(public, fact, replies=[ANSWER])[SOC]
    assert not notice.private and notice.answer == "" and notice.question == ""
    text = catalog.render(notice).text
    assert "напишите нам, пожалуйста, в личные сообщения" in text
    for personal in ("Код отправлен", "8-800", "+7916", "ivanov", "Иван"):
        assert personal not in text


def test_a_long_answer_is_clipped_to_one_message(catalog: TemplateCatalog, card: CaseCard) -> None:
    long_answer = ("Очень подробный ответ специалиста. " * 200).strip()
    notice = told(by_social(card, "123456789:42", private=True), PublicReply(long_answer))[SOC]
    text = catalog.render(notice).text
    assert len(text) <= SOCIAL_TEXT_CHARS and text.endswith("…")


@pytest.mark.parametrize(
    "fact",
    [
        StatusChanged(Status.ANSWER_READY, Status.IN_PROGRESS, ActorKind.SPECIALIST),  # no reply
        StatusChanged(Status.IN_PROGRESS, Status.REGISTERED, ActorKind.SPECIALIST),
        StatusChanged(Status.CLOSED, Status.ANSWER_READY, ActorKind.SYSTEM),
    ],
)
def test_nothing_but_a_reply_is_posted_to_a_social_network(card: CaseCard, fact: Fact) -> None:
    assert SOC not in told(by_social(card, "123456789:42", private=True), fact)


def test_with_reply_notices_off_nothing_is_posted(card: CaseCard) -> None:
    social = by_social(card, "123456789:42", private=True)
    off = NotifyPolicy(on_public_reply=False)
    assert notices_for(social, PublicReply(ANSWER), off) == []
