"""Issue 17's acceptance on the whole system: a citizen's case and answers travel through intake,
a specialist works it in the desk in Debian's Chromium, the citizen's notice reaches the SMTP sink.

Every part is real and wired as in production (support/system.py: the five services over mutual
TLS on the secured broker, the real Keycloak for the specialists, the SLA service's clocks on the
production policy 2023.1 rather than the seconds-long test policy, so that nothing breaches while
the browser works). The desk runs beside them with its own certificate and calls the case service
and intake as `desk`.

The story: l1.ivanova signs in through Keycloak's login page and opens her tier's queue; a chat
case submitted through intake over gRPC appears in it without a reload, and the time its SLA
clock leaves once the SLA service has started it; she takes it and asks the citizen a question;
the citizen's answer, sent through intake, appears on the open case page without a reload; she
replies and marks «Ответ готов»; the citizen's e-mail notice of «Ответ готов» arrives at the SMTP
sink.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from support.desk import DeskProcess, chromium, new_page, sign_in, start_desk, submit, wait_until
from support.people import case_oidc_env
from support.provisioning import SecureKafka
from support.system import Casedesk, start_casedesk

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_runtime import pki

pytestmark = [pytest.mark.integration]

POLICY = "2023.1"  # the production deadlines: hours, not the test policy's seconds
LOGIN = f"desk-citizen-{uuid.uuid4().hex[:8]}"
EMAIL = f"{LOGIN}@example.org"
PHONE = "+79161234567"
NOTICE_TIMEOUT_S = 60.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    keycloak: Any,
) -> AsyncIterator[Casedesk]:
    settings = {
        "sla": {"CASEDESK_SLA_POLICY_VERSION": POLICY},
        "notify": {"CASEDESK_DEADLINE_POLICY_VERSION": POLICY},
    }
    directory: Path = tmp_path_factory.mktemp("desk-whole-system")
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak, settings=settings
    ) as system:
        yield system


@pytest.fixture(scope="module")
def desk(
    casedesk: Casedesk, keycloak: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeskProcess]:
    env = {
        **case_oidc_env(keycloak),
        "CASEDESK_TLS_CERT_FILE": str(casedesk.pki / "desk.crt"),
        "CASEDESK_TLS_KEY_FILE": str(casedesk.pki / "desk.key"),
        "CASEDESK_TLS_CA_FILE": str(casedesk.pki / pki.CA_CERT),
        "CASEDESK_CASE_ADDRESS": casedesk.case.address,
        "CASEDESK_INTAKE_ADDRESS": casedesk.intake.address,
        "CASEDESK_DESK_COOKIE_SECURE": "false",  # plain http on loopback
    }
    process = start_desk(env, tmp_path_factory.mktemp("desk-logs"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def intake(casedesk: Casedesk) -> Iterator[intake_grpc.IntakeServiceStub]:
    """Intake as the portal's chat widget reaches it (its certificate and bearer token)."""
    credentials = pki.client_credentials(casedesk.pki, "frontend")
    with grpc.secure_channel(casedesk.intake.address, credentials) as channel:
        yield intake_grpc.IntakeServiceStub(channel)


def test_a_case_through_intake_is_worked_in_the_desk_and_the_citizen_notified(
    casedesk: Casedesk, desk: DeskProcess, keycloak: Any, intake: intake_grpc.IntakeServiceStub
) -> None:
    citizen = casedesk.frontend.acting_for(LOGIN)
    with chromium() as browser, new_page(browser) as page:
        sign_in(page, desk, keycloak, "l1.ivanova", "/queue?view=tier")
        page.evaluate("window.notReloaded = true")
        page.wait_for_selector("#queue[data-live-state='open']", state="attached")
        time.sleep(1.0)  # the stream starts "from now" a moment after the browser sees it open

        # The citizen writes in the portal's chat; intake registers the case.
        subject = f"Не приходит код подтверждения {uuid.uuid4().hex[:6]}"
        acknowledged = intake.SubmitCase(
            intake_pb2.SubmitCaseRequest(
                idempotency_key=str(uuid.uuid4()),
                channel=types_pb2.PORTAL_CHAT,
                citizen=types_pb2.Citizen(
                    full_name="Смирнов Пётр Алексеевич", mobile_phone=PHONE, email=EMAIL,
                    preferred_contact=types_pb2.CONTACT_SMS_AND_EMAIL,
                ),
                content=types_pb2.CaseContent(subject=subject, description="Жду код уже час"),
                provenance=types_pb2.Provenance(chat=types_pb2.ChatOrigin(session_id="chat-7")),
                category=types_pb2.REGISTRATION_SIGN_IN,
            ),
            metadata=citizen,
        )  # fmt: skip
        case_id, number = acknowledged.case_id, acknowledged.number

        # It appears in her open queue without a reload.
        row = page.locator(f"tr[data-case-id='{case_id}']")
        row.wait_for(timeout=30_000)
        assert number in row.inner_text()
        assert page.evaluate("window.notReloaded === true")

        # The SLA service's clock reaches the queue through the case timeline (sla.events.v1):
        # shown from the next load (clock changes are not pushed to an open queue yet).
        deadline = time.monotonic() + 30
        while not re.search("осталось", row.locator(".left").inner_text()):
            assert time.monotonic() < deadline, "the case's SLA clock never reached the queue"
            time.sleep(1.0)
            page.reload()
            row.wait_for()
        row.locator("a").click()
        page.wait_for_url(f"{desk.url}/cases/{case_id}")
        assert submit(page, "take", case_id).status == 303
        assert page.locator("#status").inner_text() == "В работе"

        page.fill("#clarify-text", "Уточните, пожалуйста, номер телефона в личном кабинете")
        submit(page, "clarify", case_id)
        assert page.locator("#status").inner_text() == "Требуется уточнение"

        # The citizen answers through intake; the open page shows it without a reload.
        answer = f"Номер тот же, {PHONE[-4:]} на конце {uuid.uuid4().hex[:4]}"
        intake.AddComment(
            intake_pb2.AddCommentRequest(
                idempotency_key=str(uuid.uuid4()), case_number=number, body=answer
            ),
            metadata=citizen,
        )
        wait_until(
            page,
            "text => document.querySelector('#history').innerText.includes(text)",
            answer,
            timeout_s=30,
        )
        wait_until(
            page, "() => document.querySelector('#status').innerText === 'В работе'", None, 30
        )

        page.fill("#reply-text", "Код отправлен повторно, он придёт в течение пяти минут")
        submit(page, "reply", case_id)
        submit(page, "ready", case_id)
        assert page.locator("#status").inner_text() == "Ответ готов"

    # The citizen's notice of «Ответ готов» by e-mail (he asked for SMS and e-mail).
    deadline = time.monotonic() + NOTICE_TIMEOUT_S
    while True:
        notices = [
            m
            for m in casedesk.smtp.snapshot()
            if m.recipients == (EMAIL,) and "Ответ готов" in m.body("plain")
        ]
        if notices:
            break
        assert time.monotonic() < deadline, "no e-mail notice of «Ответ готов» reached the sink"
        time.sleep(0.5)
    assert number in notices[0].message["Subject"] or number in notices[0].body("plain")
