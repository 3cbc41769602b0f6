"""The words of every notice (templates v2, the default): per transition, who acted, and what a
citizen with or without a portal account reads."""

from __future__ import annotations

import dataclasses

import pytest

from casedesk_notify.adapters.rendering import TemplateCatalog, gist
from casedesk_notify.domain import (
    CaseCard,
    DeliveryChannel,
    Escalated,
    Notice,
    NoticeKind,
    NotifyPolicy,
    PublicReply,
    Registered,
    StatusChanged,
    apply,
    notices_for,
)
from casedesk_notify.domain.facts import Fact
from casedesk_notify.domain.sms_segments import count_segments
from casedesk_vocabulary.enums import ActorKind, EscalationReason, Status, Tier
from casedesk_vocabulary.wording import deadline_phrase

S, A = Status, ActorKind
LABELS = {
    S.REGISTERED: "Зарегистрирована",
    S.IN_PROGRESS: "В работе",
    S.WAITING_FOR_CITIZEN: "Требуется уточнение",
    S.ANSWER_READY: "Ответ готов",
    S.CLOSED: "Закрыта",
}
CASE_URL = "https://portal.test/cases/2026-0001234"
SUBJECT = "Обращение в службу поддержки - 2026-0001234"
ANSWER = "Код отправлен повторно.\nЕсли он не придёт за час, позвоните 8-800-100-70-10."
QUESTION = "Уточните, пожалуйста, оператора связи."
ON_PORTAL = "Текст ответа доступен на портале после входа в личный кабинет."
CONTACTS = (DeliveryChannel.EMAIL, DeliveryChannel.SMS)


def notice(card: CaseCard, kind: NoticeKind, channel: DeliveryChannel, **changes) -> Notice:
    address = card.contacts.address(channel)
    return Notice(kind, channel, address, dataclasses.replace(card, **changes))


def told(card: CaseCard, fact: Fact, channel: DeliveryChannel, **context) -> Notice:
    """The notice `fact` causes on `channel`, as the planner builds it."""
    after = apply(card, fact)
    assert after is not None
    [found] = [n for n in notices_for(after, fact, NotifyPolicy(), **context)
               if n.channel is channel]  # fmt: skip
    return found


def without_account(card: CaseCard) -> CaseCard:
    return dataclasses.replace(card, portal_account=False)


# -- every status change: the label, the news of who did what --------------------------------

# (from, to, who) -> the sentence the e-mail says, and what the SMS adds after the label.
TRANSITIONS = [
    (S.REGISTERED, S.IN_PROGRESS, A.SPECIALIST,
     "Специалист приступил к работе над обращением.", ""),
    (S.WAITING_FOR_CITIZEN, S.IN_PROGRESS, A.CITIZEN,
     "Ваш ответ на запрос уточнения получен, специалист продолжает работу над обращением.",
     " Ваш ответ получен."),
    (S.WAITING_FOR_CITIZEN, S.IN_PROGRESS, A.SPECIALIST,
     "Специалист продолжает работу над обращением.", ""),
    (S.IN_PROGRESS, S.WAITING_FOR_CITIZEN, A.SPECIALIST,
     "Специалисту нужны уточнения по обращению.", " Ответьте на вопрос специалиста."),
    (S.IN_PROGRESS, S.ANSWER_READY, A.SPECIALIST, "Ответ на обращение готов.", ""),
    (S.ANSWER_READY, S.CLOSED, A.SPECIALIST, "Специалист закрыл обращение.",
     " Закрыто специалистом."),
    (S.ANSWER_READY, S.CLOSED, A.SYSTEM,
     "Обращение закрыто автоматически: после ответа от вас не поступило вопросов.",
     " Закрыто автоматически."),
    (S.ANSWER_READY, S.CLOSED, A.CITIZEN,
     "Обращение закрыто: вы подтвердили, что получили ответ.", " Вы подтвердили ответ."),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after", "who", "sentence", "sms_news"), TRANSITIONS)
def test_a_status_email_says_what_happened_and_who_did_it(
    catalog: TemplateCatalog,
    card: CaseCard,
    before: Status,
    after: Status,
    who: ActorKind,
    sentence: str,
    sms_news: str,
) -> None:
    card = dataclasses.replace(card, status=before)
    fact = StatusChanged(after, before, who)
    email = catalog.render(told(card, fact, DeliveryChannel.EMAIL))
    assert email.subject == SUBJECT
    assert email.template == "status_changed@v2"
    for body in (email.text, email.html):
        assert f"№ {'<strong>' if body is email.html else ''}2026-0001234" in body
        assert f"изменился: «{LABELS[after]}»." in body
        assert sentence in body
        assert CASE_URL in body
    assert email.text.startswith("Здравствуйте!")
    assert "\n\n\n" not in email.text
    sms = catalog.render(told(card, fact, DeliveryChannel.SMS))
    assert sms.text.startswith(f"Обращение 2026-0001234: статус «{LABELS[after]}».{sms_news}")


def test_a_citizens_answer_to_a_clarification_is_not_a_specialist_starting_work(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    card = dataclasses.replace(card, status=S.WAITING_FOR_CITIZEN)
    answered = StatusChanged(S.IN_PROGRESS, S.WAITING_FOR_CITIZEN, A.CITIZEN)
    email = catalog.render(told(card, answered, DeliveryChannel.EMAIL))
    assert "Ваш ответ на запрос уточнения получен" in email.text
    assert "приступил" not in email.text and "приступил" not in email.html
    sms = catalog.render(told(card, answered, DeliveryChannel.SMS))
    assert sms.text == "Обращение 2026-0001234: статус «В работе». Ваш ответ получен."
    assert sms.sms_segments == 1


@pytest.mark.parametrize(("before", "after", "who", "sentence", "sms_news"), TRANSITIONS)
def test_a_status_sms_is_short(
    catalog: TemplateCatalog,
    card: CaseCard,
    before: Status,
    after: Status,
    who: ActorKind,
    sentence: str,
    sms_news: str,
) -> None:
    sms = catalog.render(told(card, StatusChanged(after, before, who), DeliveryChannel.SMS))
    assert sms.subject == sms.html == ""
    assert sms.sms_segments == count_segments(sms.text).segments
    needs_action = after in (S.WAITING_FOR_CITIZEN, S.ANSWER_READY)
    assert (CASE_URL in sms.text) is needs_action
    assert sms.sms_segments == (2 if needs_action else 1)


@pytest.mark.parametrize(
    ("status", "shows_deadline"),
    [
        (S.REGISTERED, True),
        (S.IN_PROGRESS, True),
        (S.WAITING_FOR_CITIZEN, False),  # the clock is paused: no date to promise
        (S.ANSWER_READY, False),
        (S.CLOSED, False),
    ],
)
def test_status_email_promises_the_resolution_deadline_only_while_it_runs(
    catalog: TemplateCatalog, card: CaseCard, status: Status, shows_deadline: bool
) -> None:
    message = catalog.render(
        notice(card, NoticeKind.STATUS_CHANGED, DeliveryChannel.EMAIL, status=status)
    )
    line = "Ожидаемый срок решения: до конца дня 05.03.2026 (мск)."
    assert (line in message.text) is shows_deadline
    assert (line in message.html) is shows_deadline


def test_a_notice_without_its_news_reads_as_the_status_alone(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    message = catalog.render(
        notice(card, NoticeKind.STATUS_CHANGED, DeliveryChannel.EMAIL, status=S.IN_PROGRESS)
    )
    assert "Специалист приступил к работе над обращением." in message.text


@pytest.mark.parametrize("who", [A.SPECIALIST, A.SYSTEM, A.CITIZEN])
def test_a_closed_case_says_who_closed_it_and_how_to_go_on(
    catalog: TemplateCatalog, card: CaseCard, who: ActorKind
) -> None:
    others = {A.SPECIALIST: "Специалист закрыл", A.SYSTEM: "закрыто автоматически",
              A.CITIZEN: "вы подтвердили"}  # fmt: skip
    card = dataclasses.replace(card, status=S.ANSWER_READY)
    email = catalog.render(
        told(card, StatusChanged(S.CLOSED, S.ANSWER_READY, who), DeliveryChannel.EMAIL)
    )
    assert [phrase in email.text for phrase in others.values()] == [w is who for w in others]
    assert "повторное обращение" in email.text


# -- a clarification: the specialist's question -------------------------------------------------


@pytest.mark.parametrize("account", [True, False])
def test_a_clarification_quotes_the_specialists_public_question(
    catalog: TemplateCatalog, card: CaseCard, account: bool
) -> None:
    card = dataclasses.replace(card, status=S.IN_PROGRESS, portal_account=account)
    asked = StatusChanged(S.WAITING_FOR_CITIZEN, S.IN_PROGRESS, A.SPECIALIST)
    email = catalog.render(told(card, asked, DeliveryChannel.EMAIL, replies=[QUESTION]))
    assert f"Вопрос специалиста:\n{QUESTION}" in email.text
    assert f'<blockquote style="white-space: pre-line;">{QUESTION}</blockquote>' in email.html
    assert "не меняя тему" in email.text
    assert ("комментарий к обращению на портале" in email.text) is account
    sms = catalog.render(told(card, asked, DeliveryChannel.SMS, replies=[QUESTION]))
    if account:
        assert sms.text.endswith(CASE_URL)
    else:  # nowhere to click: the question's gist
        assert sms.text.endswith(f"Вопрос: {QUESTION}")
        assert "portal" not in sms.text


def test_a_clarification_without_a_public_question_asks_only_to_reply(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    asked = StatusChanged(S.WAITING_FOR_CITIZEN, S.IN_PROGRESS, A.SPECIALIST)
    email = catalog.render(told(card, asked, DeliveryChannel.EMAIL))
    assert "Специалисту нужны уточнения по обращению." in email.text
    assert "Вопрос специалиста" not in email.text


# -- the answer: behind the login, or in the message ------------------------------------------


def test_an_answer_stays_on_the_portal_for_a_citizen_with_an_account(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    ready = StatusChanged(S.ANSWER_READY, S.IN_PROGRESS, A.SPECIALIST)
    email = catalog.render(told(card, ready, DeliveryChannel.EMAIL, replies=[ANSWER]))
    assert ON_PORTAL in email.text and ON_PORTAL in email.html
    assert "Код отправлен" not in email.text + email.html
    sms = catalog.render(told(card, ready, DeliveryChannel.SMS, replies=[ANSWER]))
    assert sms.text == f"Обращение 2026-0001234: статус «Ответ готов». {CASE_URL}"


def test_an_answer_is_carried_to_a_citizen_without_an_account_never_pointing_to_one(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    card = without_account(card)
    ready = StatusChanged(S.ANSWER_READY, S.IN_PROGRESS, A.SPECIALIST)
    email = catalog.render(told(card, ready, DeliveryChannel.EMAIL, replies=[ANSWER]))
    assert f"Ответ специалиста:\n{ANSWER}" in email.text
    assert "позвоните 8-800-100-70-10." in email.html
    for body in (email.text, email.html):
        assert "личн" not in body and "портал" not in body and CASE_URL not in body
    sms = catalog.render(told(card, ready, DeliveryChannel.SMS, replies=[ANSWER]))
    assert sms.text == (
        "Обращение 2026-0001234: статус «Ответ готов». "
        "Ответ: Код отправлен повторно. Если он не придёт за час, позвоните…"
    )
    assert sms.sms_segments == 2


def test_a_quoted_answer_is_escaped_in_html(catalog: TemplateCatalog, card: CaseCard) -> None:
    hostile = '<a href="https://evil.example">войдите</a>'
    message = catalog.render(
        told(without_account(card), PublicReply(hostile), DeliveryChannel.EMAIL)
    )
    assert '<a href="https://evil' not in message.html
    assert "&lt;a href=&#34;https://evil.example&#34;&gt;" in message.html


@pytest.mark.parametrize("channel", CONTACTS)
def test_a_public_reply_points_to_the_portal_without_quoting_it_for_an_account_holder(
    catalog: TemplateCatalog, card: CaseCard, channel: DeliveryChannel
) -> None:
    message = catalog.render(told(card, PublicReply(ANSWER), channel))
    assert message.template == "public_reply@v2"
    assert "ответ специалиста" in message.text or "Специалист ответил" in message.text
    assert CASE_URL in message.text
    assert "Код отправлен" not in message.text


def test_a_public_reply_carries_its_text_to_a_citizen_without_an_account(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    card = without_account(card)
    email = catalog.render(told(card, PublicReply(ANSWER), DeliveryChannel.EMAIL))
    assert (
        f"Специалист ответил на ваше обращение № 2026-0001234.\n\nОтвет специалиста:\n{ANSWER}"
        in email.text
    )
    assert CASE_URL not in email.text + email.html
    sms = catalog.render(told(card, PublicReply("Проверьте СМС."), DeliveryChannel.SMS))
    assert sms.text == "По обращению 2026-0001234 есть ответ специалиста: Проверьте СМС."


def test_gist_keeps_short_texts_and_cuts_long_ones_at_a_word() -> None:
    assert gist("Проверьте\n  СМС.") == "Проверьте СМС."
    cut = gist("слово " * 30)
    assert len(cut) <= 70 and cut.endswith("слово…")
    assert gist("а" * 100) == "а" * 69 + "…"


# -- acknowledgement, escalation --------------------------------------------------------------


def test_acknowledgement_gives_number_and_expected_deadlines_in_moscow_time(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    email = catalog.render(told(card, Registered(card), DeliveryChannel.EMAIL))
    assert email.subject == SUBJECT
    assert email.template == "acknowledgement@v2"
    assert "зарегистрировано под номером 2026-0001234" in email.text
    assert "Статус: «Зарегистрирована»." in email.text
    assert "Ожидаемый срок первого ответа: до 02.03.2026 12:00 (мск)." in email.text
    assert "Ожидаемый срок решения: до конца дня 05.03.2026 (мск)." in email.text
    assert "до 02.03.2026 12:00 (мск)" in email.html
    assert f"Следить за обращением: {CASE_URL}" in email.text
    assert "повторное" not in email.text
    sms = catalog.render(told(card, Registered(card), DeliveryChannel.SMS))
    assert sms.text == "Обращение 2026-0001234 зарегистрировано, ответ до 02.03 12:00 мск."
    assert sms.sms_segments == 1


def test_acknowledgement_of_a_repeat_names_the_case_it_repeats(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    repeat = Registered(without_account(card), repeat_of="case-0")
    email = catalog.render(told(card, repeat, DeliveryChannel.EMAIL, repeat_of="2026-0000007"))
    assert "Это повторное обращение по обращению № 2026-0000007." in email.text
    assert "Это повторное обращение по обращению № 2026-0000007." in email.html
    assert CASE_URL not in email.text + email.html  # no account: no portal link


def test_acknowledgement_without_deadlines_leaves_them_out(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    bare = dataclasses.replace(card, deadlines=dataclasses.replace(card.deadlines,
                               first_response_due=None, resolution_due=None))  # fmt: skip
    email = catalog.render(Notice(NoticeKind.ACKNOWLEDGEMENT, DeliveryChannel.EMAIL, "x", bare))
    assert "срок" not in email.text.lower()
    assert "<ul>" not in email.html
    sms = catalog.render(Notice(NoticeKind.ACKNOWLEDGEMENT, DeliveryChannel.SMS, "x", bare))
    assert sms.text == "Обращение 2026-0001234 зарегистрировано."


@pytest.mark.parametrize(
    ("tier", "phrase"),
    [(Tier.L2, "старшему специалисту"), (Tier.L3, "в отдел контроля качества")],
)
@pytest.mark.parametrize("channel", CONTACTS)
def test_escalation_names_the_new_tier(
    catalog: TemplateCatalog, card: CaseCard, tier: Tier, phrase: str, channel: DeliveryChannel
) -> None:
    message = catalog.render(notice(card, NoticeKind.ESCALATED, channel, tier=tier))
    assert f"2026-0001234 передано {phrase}." in message.text
    assert message.template == "escalated@v2"


@pytest.mark.parametrize(
    ("who", "reason", "why"),
    [
        (A.SPECIALIST, EscalationReason.CRITICAL_ERROR,
         "Так решил специалист, который работал с обращением."),
        (A.SYSTEM, EscalationReason.UNSATISFYING_ANSWER, "Так сделано по вашему запросу."),
        (A.SYSTEM, EscalationReason.FIRST_RESPONSE_BREACH,
         "Так сделано, потому что истёк срок первого ответа."),
        (A.SYSTEM, EscalationReason.RESOLUTION_BREACH,
         "Так сделано, потому что истёк срок решения."),
    ],
)  # fmt: skip
def test_escalation_says_why(
    catalog: TemplateCatalog, card: CaseCard, who: ActorKind, reason: EscalationReason, why: str
) -> None:
    email = catalog.render(
        told(card, Escalated(Tier.L2, False, who, reason), DeliveryChannel.EMAIL)
    )
    assert f"передано старшему специалисту.\n{why}" in email.text
    assert f"<p>{why}</p>" in email.html


def test_escalation_with_callback_says_so(catalog: TemplateCatalog, card: CaseCard) -> None:
    base = notice(card, NoticeKind.ESCALATED, DeliveryChannel.SMS, tier=Tier.L2)
    with_callback = dataclasses.replace(base, callback_required=True)
    assert "Вам перезвонят." in catalog.render(with_callback).text
    assert "перезвон" not in catalog.render(base).text


# -- the catalogue ----------------------------------------------------------------------------


def test_html_escapes_what_it_did_not_write(catalog: TemplateCatalog, card: CaseCard) -> None:
    hostile = dataclasses.replace(card, number="<b>1</b>")
    message = catalog.render(Notice(NoticeKind.STATUS_CHANGED, DeliveryChannel.EMAIL, "x", hostile))
    assert "<b>1</b>" not in message.html
    assert "&lt;b&gt;1&lt;/b&gt;" in message.html
    assert "https://portal.test/cases/%3Cb%3E1%3C/b%3E" in message.html


def test_portal_base_url_is_configurable(card: CaseCard) -> None:
    catalog = TemplateCatalog("https://lk.example/support/")
    message = catalog.render(Notice(NoticeKind.PUBLIC_REPLY, DeliveryChannel.SMS, "x", card))
    assert "https://lk.example/support/2026-0001234" in message.text


def test_version_1_still_renders_to_go_back_to(card: CaseCard) -> None:
    v1 = TemplateCatalog("https://portal.test/cases", version="v1")
    answered = StatusChanged(S.IN_PROGRESS, S.WAITING_FOR_CITIZEN, A.CITIZEN)
    for channel in CONTACTS:
        message = v1.render(told(card, answered, channel))
        assert message.template == "status_changed@v1"
        assert "«В работе»" in message.text


def test_unknown_template_version_fails_at_start() -> None:
    with pytest.raises(ValueError, match="no template version 'v9'"):
        TemplateCatalog("https://portal.test", version="v9")


def test_moscow_formatting_reads_midnight_as_end_of_day(card: CaseCard) -> None:
    assert card.deadlines.resolution_due is not None
    assert deadline_phrase(card.deadlines.resolution_due) == "до конца дня 05.03.2026 (мск)"
