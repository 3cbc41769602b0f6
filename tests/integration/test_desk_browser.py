"""The desk in a real browser: Debian's Chromium driven by Playwright, the real Keycloak's login
page, a real case service (PostgreSQL, mutual TLS) behind a real desk process.

Issue 17's core slice: a specialist signs in through Keycloak; sees a case intake registered in
his tier's queue, with the time its SLA clock leaves; takes it, replies publicly and marks «Ответ
готов»; an L1 specialist cannot open an L3 case (403 with a clear message) nor the supervisors'
overview; a form posted without the CSRF token is refused (403); after logout the session is dead
and the queue sends to the sign-in page again. Live updates: a case registered through the case
service appears in the open queue and leaves it when it goes up a tier; a citizen's comment and an
escalation appear on the open case page; a second signed-in specialist on the same case is shown
(«who else») and leaves when his tab closes — all without a reload. Escalation with a reason, a
canned reply, a non-supervisor's reassignment refused. The supervisor's overview with its chart.
axe-core (services/desk/tests/a11y/install.sh puts it in a cache) finds no serious or critical
violation on the queue, case and overview pages.

The SLA service does not run here: a case's clock is written into the case service's `case_sla`
table (application/timeline.py's contract) as the case timeline would record it.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from support.desk import chromium, new_page, sign_in, submit, wait_until
from support.desk_stand import (
    AXE_JS,
    DeskStand,
    axe_context,
    axe_violations,
    chat_case,
    desk_stand,
    open_page,
)
from support.people import as_person

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_vocabulary.moscow import to_micros

CALLERS = ["case", "intake", "escalation", "desk"]
PHONE = "+79161234567"


@pytest.fixture(scope="module")
def stand(request: pytest.FixtureRequest) -> Iterator[DeskStand]:
    with desk_stand(request, schema=f"desk_{uuid.uuid4().hex[:12]}", callers=CALLERS) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with new_page(browser) as opened:
        yield opened


def _context(kind: int, actor: str) -> pb.CommandContext:
    return pb.CommandContext(
        idempotency_key=str(uuid.uuid4()),
        actor=types_pb2.Actor(kind=kind, id=actor),  # type: ignore[arg-type]
    )


def register_case(cases: Any, subject: str, to_tier: int = types_pb2.L1) -> pb.CaseView:
    """A citizen's chat case as intake registers it, escalated by escalation up to `to_tier`."""
    citizen = types_pb2.Citizen(full_name="Иванов Иван Иванович", account_login="ivanov.ii",
                                mobile_phone=PHONE)  # fmt: skip
    created = cases("intake").CreateCase(chat_case(citizen, subject, "Жду код уже час"))
    for tier in range(types_pb2.L2, to_tier + 1):
        cases("escalation").Escalate(pb.EscalateRequest(
            context=_context(types_pb2.Actor.SYSTEM, "escalation"), case_id=created.case_id,
            to_tier=tier,  # type: ignore[arg-type]
        ))  # fmt: skip
    return created  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def set_clock(stand: DeskStand, postgres_dsn: str) -> Any:
    """Writes a case's SLA clock as the case timeline records what the SLA service said."""
    case_schema = stand.schema

    def write(case_id: str, state: str, due: datetime, started: datetime) -> None:
        now = to_micros(datetime.now(UTC))
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            connection.execute(
                f"INSERT INTO {case_schema}.case_sla "
                "(case_id, target, state, due_us, started_us, updated_us) "
                "VALUES (%s, 'RESOLUTION', %s, %s, %s, %s) ON CONFLICT (case_id) DO UPDATE SET "
                "state = EXCLUDED.state, due_us = EXCLUDED.due_us, "
                "started_us = EXCLUDED.started_us, updated_us = EXCLUDED.updated_us",
                (case_id, state, to_micros(due), to_micros(started), now),
            )

    return write


def test_a_specialist_signs_in_takes_replies_and_readies_then_signs_out(
    page: Any, stand: DeskStand, keycloak: Any, set_clock: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    case = register_case(cases, f"Не приходит СМС-код {uuid.uuid4().hex[:6]}")
    now = datetime.now(UTC)
    set_clock(case.case_id, "running", now + timedelta(hours=4, minutes=30), now)
    sign_in(page, desk, keycloak, "l1.ivanova", "/queue?view=tier")
    assert page.locator("header .who").inner_text().endswith("линия L1")
    assert page.locator("#nav-supervisor").count() == 0

    row = page.locator(f"tr[data-case-id='{case.case_id}']")
    assert row.locator("td").nth(2).inner_text() == "Зарегистрирована"
    assert row.locator(".left").inner_text().startswith("осталось 4 ч")
    assert row.get_attribute("class") == "urgency-ok"
    row.locator("a").click()
    page.wait_for_url(f"{desk.url}/cases/{case.case_id}")

    # Personal data masked until «Показать» (a journaled read of its own).
    citizen = page.locator("#citizen")
    assert PHONE not in citizen.inner_text() and "+***67" in citizen.inner_text()
    page.click("#reveal")
    assert PHONE in page.locator("#citizen").inner_text()

    assert submit(page, "take", case.case_id).status == 303
    assert page.locator("#status").inner_text() == "В работе"
    assert page.locator("#done").inner_text() == "Обращение взято в работу."

    page.fill("#reply-text", "Код отправлен повторно, проверьте СМС")
    submit(page, "reply", case.case_id)
    assert "Код отправлен повторно, проверьте СМС" in page.locator("#history").inner_text()

    submit(page, "ready", case.case_id)
    assert page.locator("#status").inner_text() == "Ответ готов"
    last_three = page.locator("#history li").all_inner_texts()[-3:]
    assert all("l1.ivanova" in line for line in last_three), last_three

    # A form without the session's CSRF token changes nothing.
    forged = page.request.post(f"{desk.url}/cases/{case.case_id}/close", form={"text": ""})
    assert forged.status == 403
    assert "CSRF" in forged.text()
    wrong = page.request.post(
        f"{desk.url}/cases/{case.case_id}/close", form={"csrf_token": "guess"}
    )
    assert wrong.status == 403
    page.reload()
    assert page.locator("#status").inner_text() == "Ответ готов"

    # Logout ends the desk's session and Keycloak's: the queue asks for the password again.
    cookie = next(c for c in page.context.cookies() if c["name"] == "desk_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("header form[action='/auth/logout'] button")
    page.wait_for_url(f"{desk.url}/auth/signed-out")
    replayed = page.request.get(
        f"{desk.url}/queue", headers={"Cookie": f"desk_session={cookie['value']}"},
        max_redirects=0,
    )  # fmt: skip
    assert replayed.status == 303
    assert replayed.headers["location"].startswith("/auth/login")
    page.goto(f"{desk.url}/queue")
    page.wait_for_url(re.compile(re.escape(keycloak.issuer("casedesk")) + ".*"))
    assert page.locator("#username").is_visible()


def test_an_l1_specialist_cannot_open_an_l3_case_nor_the_supervisors_overview(
    page: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    case = register_case(cases, "Ошибка при подаче заявления", to_tier=types_pb2.L3)
    sign_in(page, desk, keycloak, "l1.ivanova", f"/cases/{case.case_id}")
    assert page.locator("#message").inner_text() == (
        "Недостаточно прав: специалист линии L1 не может открывать обращения линии L3. "
        "С вопросом по нему обратитесь к специалисту этой линии или руководителю."
    )
    assert page.request.get(f"{desk.url}/cases/{case.case_id}").status == 403
    assert page.locator("#status").count() == 0  # nothing of the case on the page
    # Nor work it: a take posted with the session's CSRF token is refused too.
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    taken = page.request.post(f"{desk.url}/cases/{case.case_id}/take", form={"csrf_token": csrf})
    assert taken.status == 403
    assert taken.text().count("Недостаточно прав: специалист линии L1 не может") == 1

    response = page.goto(f"{desk.url}/supervisor")
    assert response is not None and response.status == 403
    assert page.locator("#message").inner_text() == (
        "Недостаточно прав: обзор очередей и сроков доступен только руководителю."
    )


def test_a_citizens_comment_and_an_escalation_appear_on_the_open_case_page_without_reload(
    page: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    case = register_case(cases, f"Не открывается заявление {uuid.uuid4().hex[:6]}")
    # An L2 specialist: he still reads the case once it has gone up to L2.
    sign_in(page, desk, keycloak, "l2.petrov", f"/cases/{case.case_id}")
    page.evaluate("window.notReloaded = true")

    # The citizen writes through intake (acting for him) while the page stays open.
    cases("intake").AddComment(pb.AddCommentRequest(
        context=_context(types_pb2.Actor.CITIZEN, "ivanov.ii"), case_id=case.case_id,
        body="Прикладываю снимок экрана с ошибкой", public=True,
    ))  # fmt: skip
    history = page.locator("#history")
    history.get_by_text("Прикладываю снимок экрана с ошибкой").wait_for()
    assert "Сообщение гражданина" in history.inner_text()

    # A status change (escalation by the escalation service) updates the facts too.
    cases("escalation").Escalate(pb.EscalateRequest(
        context=_context(types_pb2.Actor.SYSTEM, "escalation"), case_id=case.case_id,
        to_tier=types_pb2.L2,
    ))  # fmt: skip
    history.get_by_text("Передано на линию L2").wait_for()
    page.locator("#tier", has_text=re.compile("^L2$")).wait_for()
    assert page.evaluate("window.notReloaded") is True
    versions = page.locator("#history li").evaluate_all(
        "items => items.map(i => i.dataset.version)"
    )
    assert len(versions) == len(set(versions)), versions


def test_a_specialist_escalates_with_a_reason_using_a_canned_reply_and_cannot_reassign(
    page: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    case = register_case(cases, f"Ошибка оплаты пошлины {uuid.uuid4().hex[:6]}")
    sign_in(page, desk, keycloak, "l1.ivanova", f"/cases/{case.case_id}")

    # A canned reply goes into the reply field in place.
    page.select_option("#canned", "need-details")
    page.click("#canned-form button")
    assert page.locator("#reply-text").input_value().startswith("Здравствуйте! Чтобы разобраться")

    # Only supervisors see the reassign form; a forged one is refused clearly.
    assert page.locator("#assign-form").count() == 0
    forged = page.request.post(
        f"{desk.url}/cases/{case.case_id}/assign",
        form={"csrf_token": page.locator("input[name=csrf_token]").first.input_value(),
              "specialist_id": "l2-001"},
    )  # fmt: skip
    assert forged.status == 403
    assert "переназначать обращения может только руководитель" in forged.text()

    page.select_option("#escalate-tier", "L2")
    page.select_option("#escalate-reason", "CRITICAL_ERROR")
    page.fill("#escalate-text", "Платёж списан, заявление не создано; нужен доступ к журналу")
    assert submit(page, "escalate", case.case_id).status == 303
    # The case is now above his tier, which he no longer opens: back to his queue.
    page.wait_for_url(re.compile(re.escape(f"{desk.url}/queue") + r"\?done=.*"))
    assert page.locator("#done").inner_text() == "Обращение передано на линию L2."
    history = cases("desk").GetHistory(
        pb.GetHistoryRequest(case_id=case.case_id), metadata=as_person(keycloak, "l2.petrov")
    )
    kinds = [event.WhichOneof("payload") for event in history.events]
    note = history.events[kinds.index("escalated") - 1]  # the note first, then the escalation
    escalated = history.events[kinds.index("escalated")].escalated
    assert note.commented.body.startswith("Причина эскалации: Платёж списан")
    assert not note.commented.public and note.meta.actor.id == "l1.ivanova"
    assert (escalated.to_tier, escalated.reason) == (types_pb2.L2, events_pb2.CRITICAL_ERROR)


def test_a_new_case_appears_in_the_open_queue_and_leaves_it_when_it_goes_up_a_tier(
    page: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    sign_in(page, desk, keycloak, "l1.ivanova", "/queue?view=tier")
    page.evaluate("window.notReloaded = true")
    page.wait_for_selector("#queue[data-live-state='open']", state="attached")
    # The stream starts "from now" at the case service a moment after the browser sees it open
    # (the desk opens WatchQueue once the response has begun): let it get there.
    time.sleep(1.0)

    # Everything the live region says, in order (it says each change, the next replacing it).
    page.evaluate(
        """() => { window.said = [];
            new MutationObserver(() => window.said.push(
                document.getElementById('queue-news').textContent))
            .observe(document.getElementById('queue-news'), {childList: true}); }"""
    )

    def said(text: str) -> None:
        wait_until(page, "text => window.said.includes(text)", text)

    case = register_case(cases, f"Не работает вход через Госуслуги {uuid.uuid4().hex[:6]}")
    row = page.locator(f"tr[data-case-id='{case.case_id}']")
    row.wait_for()
    assert row.locator("td").nth(2).inner_text() == "Зарегистрирована"
    said(f"В очереди новое обращение № {case.number}, статус «Зарегистрирована».")
    assert page.locator("#queue-news").get_attribute("aria-live") == "polite"

    # A citizen's comment updates the row; an escalation takes the case out of the L1 queue.
    before = page.evaluate("window.said.length")
    cases("intake").AddComment(pb.AddCommentRequest(
        context=_context(types_pb2.Actor.CITIZEN, "ivanov.ii"), case_id=case.case_id,
        body="Всё ещё не работает", public=True,
    ))  # fmt: skip
    wait_until(page, "n => window.said.length > n", before)
    assert page.evaluate("window.said.at(-1)") == (
        f"Обращение № {case.number} изменилось, статус «Зарегистрирована»."
    )
    cases("escalation").Escalate(pb.EscalateRequest(
        context=_context(types_pb2.Actor.SYSTEM, "escalation"), case_id=case.case_id,
        to_tier=types_pb2.L2,
    ))  # fmt: skip
    row.wait_for(state="detached")
    said(f"Обращение № {case.number} больше не в этой очереди.")
    assert page.evaluate("window.notReloaded") is True


def test_who_else_has_the_case_open_is_shown_and_kept_current(
    browser: Any, page: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    case = register_case(cases, f"Не приходит письмо с кодом {uuid.uuid4().hex[:6]}")
    sign_in(page, desk, keycloak, "l1.ivanova", f"/cases/{case.case_id}")
    viewers = page.locator("#viewers")
    nobody = page.locator("#viewers", has_text="Сейчас это обращение больше никто не открыл.")
    nobody.wait_for()
    assert viewers.get_attribute("aria-live") == "polite"

    other = browser.new_context(locale="ru-RU")
    try:
        second = other.new_page()
        second.set_default_timeout(20_000)
        sign_in(second, desk, keycloak, "l2.petrov", f"/cases/{case.case_id}")
        # Each sees the other: the one already there live, the newcomer on his page or stream.
        page.locator("#viewers", has_text="(L2)").wait_for()
        assert viewers.inner_text().startswith("Сейчас это обращение открыто также у: ")
        second.locator("#viewers", has_text="(L1)").wait_for()
        second.close()  # the tab closes: its stream's connection with it
        started = time.monotonic()
        nobody.wait_for(timeout=10_000)
        assert time.monotonic() - started < 10
    finally:
        other.close()


def test_the_supervisor_sees_the_overview_with_its_chart_accessible(
    browser: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is not installed at {AXE_JS} (services/desk/tests/a11y/install.sh)")
    register_case(cases, f"Нет ответа по заявлению {uuid.uuid4().hex[:6]}")
    with axe_context(browser) as context:  # for axe, as below
        page = open_page(context)
        sign_in(page, desk, keycloak, "super.orlova", "/queue?view=unassigned")
        page.click("#nav-supervisor")
        page.wait_for_url(f"{desk.url}/supervisor")
        chart = page.locator("svg#compliance-chart")
        assert chart.get_attribute("role") == "img"
        assert page.locator("#chart-title").text_content() == "Соблюдение сроков по дням"
        days = page.locator("#compliance tbody tr")
        assert days.count() == 14
        assert chart.locator("text.day").count() == 14
        assert page.locator("#tiers tbody tr").count() >= 1
        open_l1 = page.locator("#tiers tbody tr", has_text="L1").locator("td").first
        assert int(open_l1.inner_text()) >= 1
        assert axe_violations(page) == []


def test_the_queue_and_case_pages_have_no_serious_or_critical_accessibility_violation(
    browser: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is not installed at {AXE_JS} (services/desk/tests/a11y/install.sh)")
    case = register_case(cases, f"Не приходит письмо {uuid.uuid4().hex[:6]}")
    # The desk's CSP (default-src 'self') refuses injected scripts; axe is the test's, not the
    # page's, so this one context lets it in.
    with axe_context(browser) as context:
        page = open_page(context)
        sign_in(page, desk, keycloak, "l1.ivanova", "/queue?view=tier")
        assert page.locator(f"tr[data-case-id='{case.case_id}']").count() == 1
        assert axe_violations(page) == []
        page.goto(f"{desk.url}/cases/{case.case_id}")  # its forms, escalation's included
        assert page.locator("#escalate-form").count() == 1
        assert axe_violations(page) == []
