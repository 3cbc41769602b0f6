from __future__ import annotations

import dataclasses

import pytest

from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.domain import CaseCard, DeliveryChannel, Notice, NoticeKind
from casedesk_notify.domain.sms_segments import count_segments
from casedesk_vocabulary.enums import Status, Tier
from casedesk_vocabulary.wording import deadline_phrase

LABELS = {
    Status.REGISTERED: "Зарегистрирована",
    Status.IN_PROGRESS: "В работе",
    Status.WAITING_FOR_CITIZEN: "Требуется уточнение",
    Status.ANSWER_READY: "Ответ готов",
    Status.CLOSED: "Закрыта",
}
CASE_URL = "https://portal.test/cases/2026-0001234"
SUBJECT = "Обращение в службу поддержки - 2026-0001234"


def notice(card: CaseCard, kind: NoticeKind, channel: DeliveryChannel, **changes) -> Notice:
    address = card.contacts.address(channel)
    return Notice(kind, channel, address, dataclasses.replace(card, **changes))


@pytest.mark.parametrize("status", list(Status))
def test_status_email_names_case_status_link_and_routable_subject(
    catalog: TemplateCatalog, card: CaseCard, status: Status
) -> None:
    message = catalog.render(
        notice(card, NoticeKind.STATUS_CHANGED, DeliveryChannel.EMAIL, status=status)
    )
    assert message.subject == SUBJECT
    assert message.template == "status_changed@v1"
    for body in (message.text, message.html):
        assert "2026-0001234" in body
        assert f"«{LABELS[status]}»" in body
        assert CASE_URL in body
    assert f'<a href="{CASE_URL}">' in message.html
    assert message.text.startswith("Здравствуйте!")
    assert "\n\n\n" not in message.text
    assert message.sms_segments == 0


@pytest.mark.parametrize("status", list(Status))
def test_status_sms_is_short_and_names_the_status(
    catalog: TemplateCatalog, card: CaseCard, status: Status
) -> None:
    message = catalog.render(
        notice(card, NoticeKind.STATUS_CHANGED, DeliveryChannel.SMS, status=status)
    )
    assert message.text.startswith(f"Обращение 2026-0001234: статус «{LABELS[status]}».")
    assert message.subject == message.html == ""
    assert message.sms_segments == count_segments(message.text).segments
    assert message.sms_segments <= 2
    needs_action = status in (Status.WAITING_FOR_CITIZEN, Status.ANSWER_READY)
    assert (CASE_URL in message.text) is needs_action
    if not needs_action:
        assert message.sms_segments == 1


@pytest.mark.parametrize(
    ("status", "shows_deadline"),
    [
        (Status.REGISTERED, True),
        (Status.IN_PROGRESS, True),
        (Status.WAITING_FOR_CITIZEN, False),  # the clock is paused: no date to promise
        (Status.ANSWER_READY, False),
        (Status.CLOSED, False),
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


def test_waiting_for_citizen_asks_to_reply_keeping_the_subject(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    status = Status.WAITING_FOR_CITIZEN
    message = catalog.render(
        notice(card, NoticeKind.STATUS_CHANGED, DeliveryChannel.EMAIL, status=status)
    )
    assert "Специалисту нужны уточнения" in message.text
    assert "не меняя тему" in message.text


def test_acknowledgement_gives_number_and_expected_deadlines_in_moscow_time(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    email = catalog.render(notice(card, NoticeKind.ACKNOWLEDGEMENT, DeliveryChannel.EMAIL))
    assert email.subject == SUBJECT
    assert email.template == "acknowledgement@v1"
    assert "зарегистрировано под номером 2026-0001234" in email.text
    assert "Статус: «Зарегистрирована»." in email.text
    assert "Ожидаемый срок первого ответа: до 02.03.2026 12:00 (мск)." in email.text
    assert "Ожидаемый срок решения: до конца дня 05.03.2026 (мск)." in email.text
    assert "до 02.03.2026 12:00 (мск)" in email.html
    sms = catalog.render(notice(card, NoticeKind.ACKNOWLEDGEMENT, DeliveryChannel.SMS))
    assert sms.text == "Обращение 2026-0001234 зарегистрировано, ответ до 02.03 12:00 мск."
    assert sms.sms_segments == 1


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
@pytest.mark.parametrize("channel", list(DeliveryChannel))
def test_escalation_names_the_new_tier(
    catalog: TemplateCatalog, card: CaseCard, tier: Tier, phrase: str, channel: DeliveryChannel
) -> None:
    message = catalog.render(notice(card, NoticeKind.ESCALATED, channel, tier=tier))
    assert f"2026-0001234 передано {phrase}." in message.text
    assert message.template == "escalated@v1"


def test_escalation_with_callback_says_so(catalog: TemplateCatalog, card: CaseCard) -> None:
    base = notice(card, NoticeKind.ESCALATED, DeliveryChannel.SMS, tier=Tier.L2)
    with_callback = dataclasses.replace(base, callback_required=True)
    assert "Вам перезвонят." in catalog.render(with_callback).text
    assert "перезвон" not in catalog.render(base).text


@pytest.mark.parametrize("channel", list(DeliveryChannel))
def test_public_reply_points_to_the_portal_without_quoting_the_reply(
    catalog: TemplateCatalog, card: CaseCard, channel: DeliveryChannel
) -> None:
    message = catalog.render(notice(card, NoticeKind.PUBLIC_REPLY, channel))
    assert "ответ специалиста" in message.text or "Специалист ответил" in message.text
    assert CASE_URL in message.text


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


def test_unknown_template_version_fails_at_start() -> None:
    with pytest.raises(ValueError, match="no template version 'v9'"):
        TemplateCatalog("https://portal.test", version="v9")


def test_moscow_formatting_reads_midnight_as_end_of_day(card: CaseCard) -> None:
    assert card.deadlines.resolution_due is not None
    assert deadline_phrase(card.deadlines.resolution_due) == "до конца дня 05.03.2026 (мск)"
