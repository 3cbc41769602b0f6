"""The desk's end of issue 19 in a real browser (Debian's Chromium driven by Playwright), against
the real Keycloak and a real case service (PostgreSQL, mutual TLS) behind a real desk process.

«Перезвонить»: a PHONE case registered at the desk (a call from abroad, the caller identified by
the three checks) appears in the open callback list without a reload; its page says how the
caller was identified and what the callback is for; a call that did not reach the citizen leaves
the task, one that did removes it from the open list (live). A supervisor closes a case as spam
with an explanation and merges a duplicate into another case of the same citizen after a
confirmation; the two case pages then link to each other, and a specialist's forged merge is
refused with the case service's reason in Russian. axe-core finds no serious or critical
violation on the callback list and on the case pages with the new forms.

The fixtures are those of test_desk_browser.py (a module of their own: the case service and the
desk start once per module).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from support.desk import DeskProcess, chromium, sign_in, start_desk, submit, wait_until
from support.people import as_person, case_oidc_env
from support.services import ServiceProcess, start_service

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_runtime import pki

AXE_JS = Path(
    os.environ.get("CASEDESK_AXE_JS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "casedesk/desk-a11y/node_modules/axe-core/axe.min.js"
)
AXE_REFUSED = {"serious", "critical"}
CALLERS = ["case", "intake", "escalation", "desk"]
SUPERVISOR_ONLY = (
    "Недостаточно прав: закрывать обращения как спам и объединять дубликаты может только "
    "руководитель."
)
EVERY_CHECK = [
    types_pb2.PROFILE_MOBILE_NUMBER,
    types_pb2.PROFILE_NAME_BIRTH_DATE_SNILS,
    types_pb2.SMS_ONE_TIME_CODE,
]


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, CALLERS)
    return out


def _tls(pki_dir: Path, name: str) -> dict[str, str]:
    return {
        "CASEDESK_TLS_CERT_FILE": str(pki_dir / f"{name}.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki_dir / f"{name}.key"),
        "CASEDESK_TLS_CA_FILE": str(pki_dir / pki.CA_CERT),
    }


@pytest.fixture(scope="module")
def case_service(
    postgres_env: dict[str, str],
    postgres_dsn: str,
    pki_dir: Path,
    keycloak: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    schema = f"callbacks_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    env = {
        **postgres_env,
        **case_oidc_env(keycloak),
        **_tls(pki_dir, "case"),
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "CASEDESK_RELAY_ENABLED": "false",
        "CASEDESK_SHUTDOWN_GRACE_S": "1",
    }
    service = start_service("casedesk_case", env, log_dir=tmp_path_factory.mktemp("case-logs"))
    yield service
    service.terminate()
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def desk(
    case_service: ServiceProcess,
    pki_dir: Path,
    keycloak: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DeskProcess]:
    env = {
        **case_oidc_env(keycloak),
        **_tls(pki_dir, "desk"),
        "CASEDESK_CASE_ADDRESS": case_service.address,
        "CASEDESK_DESK_COOKIE_SECURE": "false",  # plain http on loopback
    }
    process = start_desk(env, tmp_path_factory.mktemp("desk-logs"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def cases(case_service: ServiceProcess, pki_dir: Path) -> Iterator[Any]:
    """The case service as intake and the desk reach it (by certificate)."""
    channels: list[grpc.Channel] = []

    def stub(name: str) -> case_service_pb2_grpc.CaseServiceStub:
        channel = grpc.secure_channel(case_service.address, pki.client_credentials(pki_dir, name))
        channels.append(channel)
        return case_service_pb2_grpc.CaseServiceStub(channel)

    yield stub
    for channel in channels:
        channel.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own desk session) that lets axe-core in: the desk's CSP
    refuses injected scripts, and axe is the test's, not the page's."""
    opened = browser.new_context(locale="ru-RU", bypass_csp=True)
    try:
        yield opened
    finally:
        opened.close()


def _page(context: Any) -> Any:
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _citizen(login: str) -> types_pb2.Citizen:
    return types_pb2.Citizen(full_name="Петров Пётр Петрович", account_login=login,
                             mobile_phone="+79161234567")  # fmt: skip


def register_call(cases: Any, keycloak: Any, subject: str, login: str) -> pb.CaseView:
    """A call from abroad registered at the desk by l1.ivanova, the caller identified by all three
    checks (as intake requires of a call from abroad)."""
    return cases("desk").CreateCase(  # type: ignore[no-any-return]
        pb.CreateCaseRequest(
            context=pb.CommandContext(idempotency_key=str(uuid.uuid4())),
            channel=types_pb2.PHONE, type=types_pb2.CONSULTATION,
            category=types_pb2.SERVICE_DELIVERY, citizen=_citizen(login),
            content=types_pb2.CaseContent(subject=subject, description="Звонок из Германии"),
            provenance=types_pb2.Provenance(phone=types_pb2.PhoneOrigin(
                call_id=f"call-{uuid.uuid4().hex[:8]}", caller_number="+4915112345678",
                from_abroad=True, caller_checks=EVERY_CHECK,
            )),
        ),
        metadata=as_person(keycloak, "l1.ivanova"),
    )  # fmt: skip


def register_chat(cases: Any, subject: str, login: str) -> pb.CaseView:
    """A citizen's chat case as intake registers it."""
    return cases("intake").CreateCase(  # type: ignore[no-any-return]
        pb.CreateCaseRequest(
            context=pb.CommandContext(
                idempotency_key=str(uuid.uuid4()),
                actor=types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id=login),
            ),
            channel=types_pb2.PORTAL_CHAT, type=types_pb2.TECHNICAL,
            category=types_pb2.REGISTRATION_SIGN_IN, citizen=_citizen(login),
            content=types_pb2.CaseContent(subject=subject, description="Не приходит код"),
        )
    )  # fmt: skip


def _axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now, one line each."""
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is not installed at {AXE_JS} (services/desk/tests/a11y/install.sh)")
    page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.map(n => n.target.join(" "))}))"""
    )
    return [
        f"{v['impact']} {v['id']}: {', '.join(v['nodes'][:5])}"
        for v in found
        if v["impact"] in AXE_REFUSED
    ]


def test_a_phone_case_is_a_callback_task_until_a_call_reaches_the_citizen(
    context: Any, desk: DeskProcess, keycloak: Any, cases: Any
) -> None:
    tasks = _page(context)
    sign_in(tasks, desk, keycloak, "l1.ivanova", "/callbacks")
    assert tasks.locator("#nav-callbacks").inner_text() == "Перезвонить"
    tasks.evaluate("window.notReloaded = true")
    tasks.wait_for_selector("#queue[data-live-state='open']", state="attached")
    # The stream starts "from now" a moment after the browser sees it open (see
    # test_desk_browser.py): let it get there.
    time.sleep(1.0)
    # Everything the live region says, in order (a new case's assignment follows its creation).
    tasks.evaluate(
        """() => { window.said = [];
            new MutationObserver(() => window.said.push(
                document.getElementById('queue-news').textContent))
            .observe(document.getElementById('queue-news'), {childList: true}); }"""
    )

    case = register_call(cases, keycloak, f"Не пришёл код {uuid.uuid4().hex[:6]}", "petrov.pp")
    row = tasks.locator(f"tr[data-case-id='{case.case_id}']")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == case.number
    # CaseSummary names the purpose once the contract has callback_purpose (asked of the lead);
    # until then the list shows «—» and the case page the purpose.
    has_purpose = "callback_purpose" in pb.CaseSummary.DESCRIPTOR.fields_by_name
    assert cells[2] == ("Первый ответ: перезвонить гражданину" if has_purpose else "—")
    assert re.fullmatch(r"осталось (29|30) мин", cells[4]), cells
    assert row.get_attribute("class") == "urgency-ok"
    added = f"Новая задача: перезвонить по обращению № {case.number}."
    wait_until(tasks, "text => window.said.includes(text)", added)
    assert _axe_violations(tasks) == []

    # The case in another tab of the same session; the list stays open in the first.
    work = _page(context)
    work.goto(f"{desk.url}/cases/{case.case_id}")
    assert work.locator("#caller-checks").inner_text() == (
        "личность подтверждена: российский мобильный номер из личного кабинета; ФИО, дата "
        "рождения и СНИЛС из профиля; одноразовый код по SMS на этот номер"
    )
    assert "+4915112345678" not in work.content()
    assert (
        work.locator("#callback-due")
        .inner_text()
        .startswith("Первый ответ: перезвонить гражданину до ")
    )
    assert _axe_violations(work) == []

    # Not reached: the task stays.
    work.check("#callback-missed")
    work.fill("#callback-note", "Абонент недоступен")
    assert submit(work, "callback", case.case_id).status == 303
    assert work.locator("#done").inner_text() == "Звонок записан: дозвониться не удалось."
    assert work.locator("#callback-due").count() == 1
    assert "Звонок гражданину: не дозвонились" in work.locator("#history").inner_text()

    # Reached: the task is done, and leaves the open list without a reload.
    work.check("#callback-reached")
    work.fill("#callback-note", "Сообщил, что код придёт в течение часа")
    assert submit(work, "callback", case.case_id).status == 303
    assert work.locator("#done").inner_text() == "Звонок записан: гражданину дозвонились."
    assert work.locator("#callback-due").count() == 0
    calls = work.locator("#callbacks li").all_inner_texts()
    assert len(calls) == 2 and "дозвонились: Сообщил, что код придёт" in calls[1], calls
    row.wait_for(state="detached")
    removed = f"Перезванивать по обращению № {case.number} больше не нужно."
    wait_until(tasks, "text => window.said.includes(text)", removed)
    assert tasks.evaluate("window.notReloaded") is True
    tasks.reload()
    assert tasks.locator(f"tr[data-case-id='{case.case_id}']").count() == 0


def test_a_supervisor_closes_spam_and_merges_a_duplicate_that_a_specialist_cannot(
    browser: Any, context: Any, desk: DeskProcess, keycloak: Any, cases: Any
) -> None:
    login = f"sidorov.{uuid.uuid4().hex[:6]}"
    target = register_chat(cases, f"Не приходит СМС-код {uuid.uuid4().hex[:6]}", login)
    duplicate = register_chat(cases, "Снова не приходит СМС-код", login)
    spam = register_chat(cases, "Купите рекламу", f"spam.{uuid.uuid4().hex[:6]}")

    # A specialist sees no supervisor's form, and a forged merge is refused by the case service.
    specialist = browser.new_context(locale="ru-RU")
    try:
        page = _page(specialist)
        sign_in(page, desk, keycloak, "l1.ivanova", f"/cases/{duplicate.case_id}")
        for form in ("#spam-form", "#merge-form"):
            assert page.locator(form).count() == 0
        csrf = page.locator("input[name=csrf_token]").first.input_value()
        forged = page.request.post(
            f"{desk.url}/cases/{duplicate.case_id}/merge",
            form={"csrf_token": csrf, "confirm": "yes", "target_case_id": target.case_id},
        )
        assert forged.status == 403
        assert SUPERVISOR_ONLY in forged.text()
    finally:
        specialist.close()

    page = _page(context)
    sign_in(page, desk, keycloak, "super.orlova", f"/cases/{spam.case_id}")
    assert _axe_violations(page) == []
    page.fill("#spam-text", "Реклама, вопроса к поддержке нет")
    assert submit(page, "spam", spam.case_id).status == 303
    assert page.locator("#status").inner_text() == "Закрыта"
    assert page.locator("#close-reason").inner_text() == "Закрыто без рассмотрения (спам)"
    assert page.locator("#spam-form").count() == 0

    page.goto(f"{desk.url}/cases/{duplicate.case_id}")
    page.fill("#merge-number", target.number)
    page.click("#merge-form button")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == (
        f"Объединить обращение № {duplicate.number} с № {target.number}?"
    )
    assert _axe_violations(page) == []
    with page.expect_response(lambda r: r.request.method == "POST") as merged:
        page.click("#merge-confirm-form button")
    assert merged.value.status == 303
    page.wait_for_url(re.compile(re.escape(f"{desk.url}/cases/{target.case_id}") + r"\?done=.*"))
    assert page.locator("#done").inner_text() == "Дубликат объединён с этим обращением и закрыт."
    assert page.locator("#merged-duplicates a").inner_text() == f"№ {duplicate.number}"

    page.click("#merged-duplicates a")
    page.wait_for_url(f"{desk.url}/cases/{duplicate.case_id}")
    assert page.locator("#status").inner_text() == "Закрыта"
    assert page.locator("#close-reason").inner_text() == (
        "Объединено с другим обращением (дубликат)"
    )
    assert page.locator("#merged-into a").inner_text() == f"№ {target.number}"
    assert f"Объединено с обращением № {target.number}" in page.locator("#history").inner_text()
