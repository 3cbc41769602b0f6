"""The queue: the time left from the SLA service's clock, the order key, the page's filters and
the ListCases query each view asks for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casedesk_desk.application.ports import QueuePage, QueueQuery
from casedesk_desk.application.work import Work
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import Clock, SlaState, Urgency, duration, order_key, time_left
from casedesk_desk.domain.queue_filter import QueueFilter, QueueView
from casedesk_desk.domain.sessions import Person
from casedesk_desk.domain.words import refusal_text

from .fakes import T0, FakeCases, queue_row

DUE = T0 + timedelta(hours=10)


def test_time_left_follows_the_sla_services_clock() -> None:
    running = Clock(SlaState.RUNNING, "RESOLUTION", DUE, T0)
    ok = time_left(running, T0 + timedelta(hours=1))
    assert (ok.text, ok.urgency) == ("осталось 9 ч 0 мин", Urgency.OK)
    # Under a fifth of the allowance left: a warning even before the SLA service's own.
    warning = time_left(running, T0 + timedelta(hours=8, minutes=30))
    assert (warning.text, warning.urgency) == ("осталось 1 ч 30 мин", Urgency.WARNING)
    said = time_left(Clock(SlaState.WARNING, "RESOLUTION", DUE, T0), T0 + timedelta(hours=1))
    assert said.urgency is Urgency.WARNING
    breach = time_left(running, T0 + timedelta(days=1, hours=12))
    assert (breach.text, breach.urgency) == ("просрочено на 1 д 2 ч", Urgency.BREACH)
    breached = time_left(Clock(SlaState.BREACHED, "RESOLUTION", DUE, T0), T0)
    assert (breached.text, breached.urgency) == ("срок нарушен", Urgency.BREACH)
    paused = time_left(Clock(SlaState.PAUSED, "RESOLUTION", DUE, T0), T0 + timedelta(days=3))
    assert (paused.text, paused.urgency) == ("срок приостановлен: ждём гражданина", Urgency.PAUSED)
    assert time_left(Clock(SlaState.NONE), T0).urgency is Urgency.NONE
    assert duration(timedelta(minutes=45)) == "45 мин"


def test_the_order_key_sorts_as_the_case_service_orders() -> None:
    def clocked(number: str, hours: int, state: SlaState = SlaState.RUNNING) -> str:
        clock = Clock(state, "RESOLUTION", T0 + timedelta(hours=hours), T0)
        return order_key(queue_row(number, clock=clock))

    later_registered = order_key(queue_row("n2", registered_at=T0 + timedelta(minutes=5)))
    keys = {
        "soon": clocked("a", 1),
        "paused": clocked("b", 2, SlaState.PAUSED),  # keeps its place by its last deadline
        "late": clocked("c", 30, SlaState.BREACHED),
        "none-old": order_key(queue_row("n1")),
        "none-new": later_registered,
    }
    assert sorted(keys, key=keys.__getitem__) == ["soon", "paused", "late", "none-old", "none-new"]


def test_filters_are_checked_and_kept_in_the_query_string() -> None:
    params = {"view": "tier", "status": "", "channel": "EMAIL", "category": "OTHER", "queue": "q"}
    shown = QueueFilter.parse(params)
    assert shown == QueueFilter(QueueView.TIER, "", "EMAIL", "OTHER", "q")
    assert shown.as_params() == {
        "view": "tier",
        "channel": "EMAIL",
        "category": "OTHER",
        "queue": "q",
    }
    assert QueueFilter.parse({}).view is QueueView.MINE
    for bad, kind, words in [
        ({"view": "all"}, RefusalKind.NOT_FOUND, "Такой очереди нет."),
        ({"status": "LOST"}, RefusalKind.INVALID, "Неизвестный статус в фильтре."),
        ({"channel": "FAX"}, RefusalKind.INVALID, "Неизвестный канал в фильтре."),
        ({"category": "X"}, RefusalKind.INVALID, "Неизвестная категория в фильтре."),
        ({"queue": "a\nb"}, RefusalKind.INVALID, "Название очереди: до 100 печатных знаков."),
        ({"queue": "q" * 101}, RefusalKind.INVALID, "Название очереди: до 100 печатных знаков."),
    ]:
        with pytest.raises(Refused) as refused:
            QueueFilter.parse(bad)
        assert (refused.value.kind, refused.value.message) == (kind, words), bad


@pytest.mark.parametrize(
    ("page", "fields", "belongs"),
    [
        (QueueFilter(QueueView.TIER), {}, True),
        (QueueFilter(QueueView.TIER), {"tier": "L2"}, False),
        (QueueFilter(QueueView.TIER), {"status": "ANSWER_READY"}, False),
        (QueueFilter(QueueView.TIER, status="ANSWER_READY"), {"status": "ANSWER_READY"}, True),
        (QueueFilter(QueueView.UNASSIGNED), {"assignee": "l2.petrov"}, False),
        (QueueFilter(QueueView.MINE), {"assignee": "l1.ivanova"}, True),
        (QueueFilter(QueueView.MINE), {"assignee": "l2.petrov"}, False),
        (QueueFilter(QueueView.UNASSIGNED, channel="EMAIL"), {}, False),
        (QueueFilter(QueueView.UNASSIGNED, category="OTHER"), {}, False),
        (QueueFilter(QueueView.UNASSIGNED, queue="general"), {}, True),
        (QueueFilter(QueueView.UNASSIGNED, queue="fines"), {}, False),
    ],
)
def test_a_changed_case_belongs_on_a_page_as_its_view_and_filters_say(
    page: QueueFilter, fields: dict[str, str], belongs: bool
) -> None:
    assert page.matches(queue_row("1", **fields), "l1.ivanova", "L1") is belongs


IVANOVA = Person("l1.ivanova", "Иванова Анна", "L1", frozenset({"specialist"}))


@pytest.mark.parametrize(
    ("page", "query"),
    [
        (QueueFilter(QueueView.MINE), QueueQuery(assignee="l1.ivanova", open_only=True)),
        (
            QueueFilter(QueueView.TIER, channel="EMAIL"),
            QueueQuery(tier="L1", channel="EMAIL", open_only=True),
        ),
        (
            QueueFilter(QueueView.UNASSIGNED, status="CLOSED", category="OTHER", queue="q"),
            QueueQuery(unassigned=True, status="CLOSED", category="OTHER", queue="q"),
        ),
    ],
)
async def test_each_view_asks_the_case_service_to_filter_and_order_by_deadline(
    page: QueueFilter, query: QueueQuery
) -> None:
    cases = FakeCases()
    cases.pages = [QueuePage([queue_row()], "next")]
    got = await Work(cases).queue("token", IVANOVA, page, "")
    assert got.next_page_token == "next"
    assert cases.calls == [("list_cases", "token", query)]
    assert query.by_deadline


async def test_a_person_without_a_tier_has_an_empty_tier_queue_without_asking() -> None:
    cases = FakeCases()
    auditor = Person("audit.kuznetsov", "Кузнецов", None, frozenset({"auditor"}))
    page = await Work(cases).queue("token", auditor, QueueFilter(QueueView.TIER))
    assert page.rows == [] and cases.calls == []


def test_the_tier_rules_read_in_russian_and_anything_else_generically() -> None:
    assert refusal_text("l1.ivanova (L1) may not work an L3 case").startswith(
        "Недостаточно прав: специалист линии L1 не может работать с обращением линии L3."
    )
    assert refusal_text("l1.ivanova (L1) may not open an L3 case").startswith(
        "Недостаточно прав: специалист линии L1 не может открывать обращения линии L3."
    )
    assert refusal_text("l1.ivanova (L1) may not reassign cases: only supervisors do") == (
        "Недостаточно прав: переназначать обращения может только руководитель."
    )
    assert refusal_text(
        "l1.ivanova (L1) may not see the desk overview: it needs the role supervisor"
    ) == ("Недостаточно прав: обзор очередей и сроков доступен только руководителю.")
    assert refusal_text("audit.kuznetsov (auditor) may not work cases: auditors only read") == (
        "Недостаточно прав для этого действия. Обратитесь к руководителю."
    )
