"""The end of a case (templates v2): «Ответ готов» says how to confirm or rate and when the case
closes by itself, «Закрыта» reads by the reason, and a refused escalation request is explained."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from casedesk_notify.adapters.phrases import duration_phrase
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.domain import (
    CaseCard,
    DeliveryChannel,
    EscalationRejected,
    MergedInto,
    Notice,
    NotifyPolicy,
    RejectionGround,
    StatusChanged,
    apply,
    notices_for,
)
from casedesk_notify.domain.facts import Fact
from casedesk_vocabulary.enums import ActorKind, CloseReason, EscalationReason, Status, Tier

E, S = DeliveryChannel.EMAIL, DeliveryChannel.SMS
PORTAL = "https://portal.test/cases"


def told(card: CaseCard, *facts: Fact) -> dict[DeliveryChannel, Notice]:
    """The notices of the last of `facts`, the earlier ones applied to the card first."""
    current: CaseCard | None = card
    for fact in facts:
        current = apply(current, fact)
    assert current is not None
    return {n.channel: n for n in notices_for(current, facts[-1], NotifyPolicy())}


def closing(reason: CloseReason | None, by: ActorKind = ActorKind.SPECIALIST) -> StatusChanged:
    return StatusChanged(Status.CLOSED, Status.ANSWER_READY, by, reason)


# -- «Ответ готов» ----------------------------------------------------------------------------


def test_answer_ready_says_how_to_confirm_and_rate_and_when_it_closes_itself(
    card: CaseCard,
) -> None:
    catalog = TemplateCatalog(PORTAL, auto_close_after=timedelta(days=14))
    ready = StatusChanged(Status.ANSWER_READY, Status.IN_PROGRESS, ActorKind.SPECIALIST)
    with_account = catalog.render(told(card, ready)[E])
    assert "подтвердите это и оцените ответ по шкале от 1 до 5 на портале" in with_account.text
    assert "через 14 дней после ответа обращение будет закрыто автоматически" in (with_account.text)
    assert "через 14 дней" in with_account.html
    without = catalog.render(told(dataclasses.replace(card, portal_account=False), ready)[E])
    assert "в любом канале поддержки, назвав номер обращения 2026-0001234" in without.text
    assert "на портале" not in without.text


def test_without_a_configured_period_nothing_is_promised(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    ready = StatusChanged(Status.ANSWER_READY, Status.IN_PROGRESS, ActorKind.SPECIALIST)
    assert "будет закрыто автоматически" not in catalog.render(told(card, ready)[E]).text


@pytest.mark.parametrize(
    ("period", "words"),
    [
        (timedelta(days=1), "1 день"),
        (timedelta(days=3), "3 дня"),
        (timedelta(days=14), "14 дней"),
        (timedelta(days=21), "21 день"),
        (timedelta(hours=36), "36 часов"),
        (timedelta(hours=22), "22 часа"),
        (timedelta(minutes=11), "11 минут"),
        (timedelta(seconds=90), "90 секунд"),
        (timedelta(seconds=1), "1 секунда"),
    ],
)
def test_periods_read_in_russian(period: timedelta, words: str) -> None:
    assert duration_phrase(period) == words


# -- «Закрыта», by the reason ------------------------------------------------------------------


def test_closed_after_no_reaction_says_so_whoever_the_actor_was(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    notices = told(card, closing(CloseReason.NO_REACTION, by=ActorKind.SPECIALIST))
    assert "Обращение закрыто автоматически: после ответа от вас не поступило вопросов." in (
        catalog.render(notices[E]).text
    )
    assert "Закрыто автоматически." in catalog.render(notices[S]).text


def test_closed_by_a_specialist_says_who_and_how_to_go_on(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    email = catalog.render(told(card, closing(CloseReason.CLOSED_BY_SPECIALIST))[E])
    assert "Специалист закрыл обращение." in email.text
    assert "повторное обращение" in email.text


@pytest.mark.parametrize("reason", [CloseReason.ANSWER_CONFIRMED, CloseReason.SPAM])
def test_a_confirmed_answer_and_spam_close_silently(card: CaseCard, reason: CloseReason) -> None:
    by = ActorKind.CITIZEN if reason is CloseReason.ANSWER_CONFIRMED else ActorKind.SPECIALIST
    assert told(card, closing(reason, by)) == {}


def test_a_silent_closure_still_moves_the_card(card: CaseCard) -> None:
    after = apply(card, closing(CloseReason.SPAM))
    assert after is not None and after.status is Status.CLOSED


def test_a_duplicate_names_the_case_to_follow(catalog: TemplateCatalog, card: CaseCard) -> None:
    notices = told(card, MergedInto("2026-0000042"), closing(CloseReason.DUPLICATE))
    email, sms = catalog.render(notices[E]), catalog.render(notices[S])
    assert "объединено с обращением № 2026-0000042" in email.text
    assert "Ответ вы получите по обращению № 2026-0000042" in email.text
    assert "Специалист закрыл обращение" not in email.text
    assert "повторное обращение: оно будет связано" not in email.text  # nothing to repeat
    assert f"{PORTAL}/2026-0000042" in email.text
    assert sms.text == (
        "Обращение 2026-0001234: статус «Закрыта». "
        "Объединено с обращением 2026-0000042, следите за ним."
    )
    assert sms.sms_segments == 2
    assert told(card, MergedInto("2026-0000042")) == {}  # the merge itself says nothing yet


def test_a_duplicate_whose_merge_was_not_seen_still_reads_right(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    email = catalog.render(told(card, closing(CloseReason.DUPLICATE))[E])
    assert "объединено с другим вашим обращением" in email.text


def test_a_closure_stored_before_reasons_existed_reads_by_its_actor(
    catalog: TemplateCatalog, card: CaseCard
) -> None:
    email = catalog.render(told(card, closing(None, by=ActorKind.CITIZEN))[E])
    assert "вы подтвердили, что получили ответ" in email.text


# -- a refused escalation request ---------------------------------------------------------------

G = RejectionGround
GROUNDS = {
    G.CASE_CLOSED: ("Обращение уже закрыто", ", обращение закрыто."),
    G.NOT_OVERDUE: ("Срок рассмотрения обращения ещё не истёк", ", срок ещё не истёк."),
    G.WRONG_STATUS: ("Сейчас статус обращения — «В работе»", ", ответ ещё не готов."),
    G.HIGHEST_TIER: ("высший уровень поддержки", ", это высший уровень."),
    G.ALREADY_THERE: ("уже передано старшему специалисту", ", обращение уже передано."),
    G.RECENTLY_ESCALATED: ("повторите запрос позже", ", обращение недавно передано."),
    G.OTHER: ("не соответствует правилам передачи", "не удовлетворён."),
}


@pytest.mark.parametrize("ground", list(RejectionGround))
def test_a_refused_request_is_explained_by_its_ground(
    catalog: TemplateCatalog, card: CaseCard, ground: RejectionGround
) -> None:
    status = Status.CLOSED if ground is RejectionGround.CASE_CLOSED else Status.IN_PROGRESS
    at = dataclasses.replace(card, status=status, tier=Tier.L2)
    notices = told(at, EscalationRejected(EscalationReason.UNSATISFYING_ANSWER, ground))
    email, sms = catalog.render(notices[E]), catalog.render(notices[S])
    explained, short = GROUNDS[ground]
    assert email.template == "escalation_rejected@v2"
    assert "Ваш запрос о передаче обращения № 2026-0001234 на следующий уровень поддержки не " \
        "удовлетворён." in email.text  # fmt: skip
    assert explained in email.text and explained in email.html
    assert ("Специалист продолжает работу" in email.text) is (status is not Status.CLOSED)
    assert sms.text.startswith("Обращение 2026-0001234: запрос о передаче не удовлетворён")
    assert sms.text.endswith(short) and sms.sms_segments <= 2
    for words in ("escalat", "cooldown", "policy", "L2"):
        assert words not in email.text  # the policy's own words are not the citizen's


def test_version_1_renders_the_new_kinds_too(card: CaseCard) -> None:
    v1 = TemplateCatalog(PORTAL, "v1")
    refused = EscalationRejected(EscalationReason.NO_ANSWER_IN_TIME, RejectionGround.NOT_OVERDUE)
    for notice in told(card, refused).values():
        assert "Срок рассмотрения" in v1.render(notice).text or notice.channel is S
