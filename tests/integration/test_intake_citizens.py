"""Citizens at intake are who a real Keycloak says: intake and the case service as processes
(mutual TLS, PostgreSQL, the secured broker), the portal's citizens signed in to Keycloak's
`portal` realm, the operators to its `casedesk` realm, one-time codes through a real SMTP server.

Acceptance of issue 16 for intake: citizen A's token cannot read, comment on, repeat or escalate
citizen B's case through any frontend, and B's case answers exactly like a missing one; SubmitCase
naming another login than the token's is refused; an e-mail citizen without a portal account
follows up with the one-time code sent to his address, and the tenth wrong code locks it (also
when intake's replicas share a PostgreSQL store).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from support.postgres_schemas import fresh_schemas, in_schema
from support.provisioning import SecureKafka
from support.system import Casedesk, start_casedesk

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.adapters.persistence.postgres import PostgresStore
from casedesk_notify.testing.sinks import SmtpSink

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PORTAL, STAFF = "portal", "casedesk"
# Besides start_casedesk's own portal-chat frontend: one frontend per other kind of channel.
FRONTENDS = {
    "personal-account": ["PERSONAL_ACCOUNT"],
    "mail-gateway": ["EMAIL"],
    "contact-centre": ["PHONE"],
}
TOKENS = {name: secrets.token_urlsafe(32) for name in FRONTENDS}
MISSING = "2026-0999999"
CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    """The mail server intake sends codes to (notify is not needed here, nor its sinks)."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def frontends_file(directory: Path) -> Path:
    entries = [
        f'[[frontend]]\nname = "{name}"\n'
        f'token_sha256 = "{hashlib.sha256(TOKENS[name].encode()).hexdigest()}"\n'
        f"channels = {channels!r}\n".replace("'", '"')
        for name, channels in FRONTENDS.items()
    ]
    path = directory / "frontends.toml"
    path.write_text("\n".join(entries))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    keycloak: Any,
    smtp: SmtpSink,
) -> AsyncIterator[Casedesk]:
    intake = {
        "CASEDESK_CITIZEN_OIDC_ISSUER": keycloak.issuer(PORTAL),
        "CASEDESK_CITIZEN_OIDC_AUDIENCE": "casedesk-intake",
        # The realm's desk tokens name the case service only; an intake audience would need
        # the realm's audience mapper to add it (see the intake README).
        "CASEDESK_OIDC_ISSUER": keycloak.issuer(STAFF),
        "CASEDESK_OIDC_AUDIENCE": "casedesk-case",
        # Added to start_casedesk's CASEDESK_FRONTENDS (its portal-chat frontend), not instead.
        "CASEDESK_FRONTENDS_FILE": str(frontends_file(tmp_path_factory.mktemp("frontends"))),
        "CASEDESK_SMTP_HOST": "127.0.0.1",
        "CASEDESK_SMTP_PORT": str(smtp.port),
        # Two citizens make every call here; their production rate (0.5/s) is not the point.
        "CASEDESK_CITIZEN_RATE_PER_S": "100",
        "CASEDESK_CITIZEN_BURST": "100",
    }
    directory: Path = tmp_path_factory.mktemp("intake-citizens")
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak,
        services=("case", "intake"), settings={"intake": intake},
    ) as system:  # fmt: skip
        yield system


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intake(casedesk: Casedesk) -> AsyncIterator[intake_grpc.IntakeServiceStub]:
    async with casedesk.channel("intake", caller="frontend") as channel:
        yield intake_grpc.IntakeServiceStub(channel)


def frontend(casedesk: Casedesk, name: str) -> list[tuple[str, str]]:
    token = casedesk.frontend.token if name == casedesk.frontend.name else TOKENS[name]
    return [("authorization", f"Bearer {token}")]


def as_citizen(casedesk: Casedesk, keycloak: Any, name: str, login: str) -> list[tuple[str, str]]:
    """What a portal frontend forwards: its own token and the citizen's from Keycloak."""
    return [*frontend(casedesk, name), ("x-citizen-token", keycloak.token(PORTAL, login))]


def portal_case(channel: str = "PERSONAL_ACCOUNT") -> intake_pb2.SubmitCaseRequest:
    provenance = (
        types_pb2.Provenance(chat=types_pb2.ChatOrigin(session_id="chat-1"))
        if channel == "PORTAL_CHAT"
        else types_pb2.Provenance(
            personal_account=types_pb2.PersonalAccountOrigin(form_id="feedback")
        )
    )
    return intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.Channel.Value(channel),
        citizen=types_pb2.Citizen(full_name="Петрова Анна Николаевна", mobile_phone="+79161234567"),
        content=types_pb2.CaseContent(subject="Не приходит код", description="Жду третий день"),
        provenance=provenance,
    )


def follow_ups(number: str) -> list[tuple[str, Any]]:
    key = str(uuid.uuid4())
    return [
        ("GetCase", intake_pb2.GetCaseRequest(case_number=number)),
        ("AddComment", intake_pb2.AddCommentRequest(idempotency_key=key, case_number=number,
                                                    body="Это не моё обращение")),
        ("RepeatCase", intake_pb2.RepeatCaseRequest(idempotency_key=key, case_number=number,
                                                    reason="Повторно")),
        ("RequestEscalation", intake_pb2.RequestEscalationRequest(
            idempotency_key=key, case_number=number, reason=events_pb2.NO_ANSWER_IN_TIME)),
    ]  # fmt: skip


async def listed(
    intake: intake_grpc.IntakeServiceStub, metadata: list[tuple[str, str]], number: str
) -> bool:
    """Whether the citizen's list shows `number` within a few seconds (the case service's list
    is a projection of its events, a moment behind them)."""
    deadline = time.monotonic() + 10
    while True:
        page = await intake.ListMyCases(intake_pb2.ListMyCasesRequest(), metadata=metadata)
        if number in [c.number for c in page.cases]:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def refusal(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value.code(), refused.value.details() or ""


async def test_a_citizens_token_cannot_reach_another_citizens_case_through_any_frontend(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, keycloak: Any
) -> None:
    as_petrova = as_citizen(casedesk, keycloak, "personal-account", "petrova.an")
    theirs = await intake.SubmitCase(portal_case(), metadata=as_petrova)
    for name in (casedesk.frontend.name, *FRONTENDS):
        ivanov = [
            *frontend(casedesk, name),
            ("x-citizen-token", keycloak.token(PORTAL, "ivanov.ii")),
        ]
        for (rpc, to_b), (_, to_nobody) in zip(
            follow_ups(theirs.number), follow_ups(MISSING), strict=True
        ):
            on_b = await refusal(getattr(intake, rpc)(to_b, metadata=ivanov))
            on_nothing = await refusal(getattr(intake, rpc)(to_nobody, metadata=ivanov))
            assert on_b == on_nothing, (name, rpc)
            portal = name in (casedesk.frontend.name, "personal-account")
            expected = grpc.StatusCode.NOT_FOUND if portal else grpc.StatusCode.PERMISSION_DENIED
            assert on_b[0] == expected, (name, rpc, on_b)
    assert await listed(intake, as_petrova, theirs.number)
    as_ivanov = as_citizen(casedesk, keycloak, "portal-chat", "ivanov.ii")
    ivanovs = await intake.ListMyCases(intake_pb2.ListMyCasesRequest(), metadata=as_ivanov)
    assert theirs.number not in [c.number for c in ivanovs.cases]
    untouched = await intake.GetCase(
        intake_pb2.GetCaseRequest(case_number=theirs.number), metadata=as_petrova
    )
    assert not untouched.comments and untouched.status == types_pb2.REGISTERED


async def test_the_login_is_the_tokens_never_the_requests_or_a_headers(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, keycloak: Any
) -> None:
    as_ivanov = as_citizen(casedesk, keycloak, "portal-chat", "ivanov.ii")
    planted = portal_case("PORTAL_CHAT")
    planted.citizen.account_login = "petrova.an"
    code, details = await refusal(intake.SubmitCase(planted, metadata=as_ivanov))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert details.startswith("citizen.account_login differs from the login of the x-citizen-token")
    header = [*frontend(casedesk, "portal-chat"), ("x-citizen-login", "petrova.an")]
    code, details = await refusal(intake.SubmitCase(portal_case("PORTAL_CHAT"), metadata=header))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "x-citizen-login" in details
    mine = await intake.SubmitCase(portal_case("PORTAL_CHAT"), metadata=as_ivanov)
    assert await listed(intake, as_ivanov, mine.number), "the token's login owns the case"


async def test_a_token_keycloak_signed_for_the_staff_proves_no_citizen(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, keycloak: Any
) -> None:
    staff_token = keycloak.token(STAFF, "l1.ivanova")  # another realm: another issuer
    pairs = [*frontend(casedesk, "portal-chat"), ("x-citizen-token", staff_token)]
    code, details = await refusal(intake.SubmitCase(portal_case("PORTAL_CHAT"), metadata=pairs))
    assert (code, details) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "x-citizen-token rejected: wrong issuer",
    )


async def wait_for_code(smtp: SmtpSink, address: str, seen: int) -> str:
    """The code in the (seen+1)-th message to `address`."""
    deadline = time.monotonic() + 20
    while True:
        mails = [m for m in smtp.snapshot() if address in m.recipients]
        if len(mails) > seen:
            found = CODE.search(mails[seen].body("plain"))
            assert found, "the message carries no code"
            return found.group(1)
        assert time.monotonic() < deadline, "no code came to the test address within 20 s"
        await asyncio.sleep(0.1)


async def test_an_email_citizen_follows_up_with_a_one_time_code(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, smtp: SmtpSink
) -> None:
    address = f"citizen.{uuid.uuid4().hex[:8]}@example.ru"
    gateway = frontend(casedesk, "mail-gateway")
    case = await intake.SubmitCase(
        intake_pb2.SubmitCaseRequest(
            idempotency_key=str(uuid.uuid4()),
            channel=types_pb2.EMAIL,
            citizen=types_pb2.Citizen(full_name="Сидоров Пётр"),
            content=types_pb2.CaseContent(subject="Справка", description="Не могу скачать"),
            provenance=types_pb2.Provenance(
                email=types_pb2.EmailOrigin(message_id=f"<{uuid.uuid4()}@example.ru>",
                                            from_address=address)),
        ),
        metadata=gateway,
    )  # fmt: skip
    ask = intake_pb2.RequestAccessCodeRequest
    for_nothing = await intake.RequestAccessCode(ask(case_number=MISSING), metadata=gateway)
    answer = await intake.RequestAccessCode(ask(case_number=case.number), metadata=gateway)
    assert answer == for_nothing, "the answer does not tell whether the case exists"
    code = await wait_for_code(smtp, address, seen=0)

    def with_code(value: str) -> list[tuple[str, str]]:
        return [*gateway, ("x-case-access-code", value)]

    def read(number: str, value: str) -> Any:
        return intake.GetCase(
            intake_pb2.GetCaseRequest(case_number=number), metadata=with_code(value)
        )

    assert (await read(case.number, code)).number == case.number
    comment = intake_pb2.AddCommentRequest(
        idempotency_key=str(uuid.uuid4()), case_number=case.number, body="Приложу скриншот"
    )
    commented = await intake.AddComment(comment, metadata=with_code(code))
    assert [c.body for c in commented.comments] == ["Приложу скриншот"]

    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 11)]
    missing = await refusal(read(MISSING, code))
    for guess in wrong[:9]:
        assert await refusal(read(case.number, guess)) == missing
    assert (await read(case.number, code)).number == case.number, "nine wrong codes: still open"
    assert await refusal(read(case.number, wrong[9])) == missing
    assert await refusal(read(case.number, code)) == missing, "the tenth wrong code locked it"

    await intake.RequestAccessCode(ask(case_number=case.number), metadata=gateway)
    fresh = await wait_for_code(smtp, address, seen=1)
    assert (await read(case.number, fresh)).number == case.number, "a new code opens it again"


async def test_an_operator_signed_in_to_keycloak_acts_for_a_caller(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, keycloak: Any
) -> None:
    def operator(username: str) -> list[tuple[str, str]]:
        token = keycloak.token(STAFF, username)
        return [*frontend(casedesk, "contact-centre"), ("x-person-token", token)]

    call = intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.PHONE,
        citizen=types_pb2.Citizen(full_name="Иванов Иван", account_login="ivanov.ii"),
        content=types_pb2.CaseContent(subject="Звонок", description="Не проходит оплата"),
        provenance=types_pb2.Provenance(
            phone=types_pb2.PhoneOrigin(call_id=str(uuid.uuid4()), caller_number="+79161234567")
        ),
    )
    case = await intake.SubmitCase(call, metadata=operator("l1.ivanova"))
    as_ivanov = as_citizen(casedesk, keycloak, "portal-chat", "ivanov.ii")
    assert await listed(intake, as_ivanov, case.number), "the operator vouched for the account"
    call.idempotency_key = str(uuid.uuid4())
    code, details = await refusal(intake.SubmitCase(call, metadata=operator("audit.kuznetsov")))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "roles" in details


async def test_the_case_events_record_the_citizen_and_the_operator_who_identified_him(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, keycloak: Any
) -> None:
    def operator(username: str) -> list[tuple[str, str]]:
        token = keycloak.token(STAFF, username)
        return [*frontend(casedesk, "contact-centre"), ("x-person-token", token)]

    call = intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.PHONE,
        citizen=types_pb2.Citizen(full_name="Иванов Иван", account_login="ivanov.ii"),
        content=types_pb2.CaseContent(subject="Звонок", description="Не приходит СМС-код"),
        provenance=types_pb2.Provenance(
            phone=types_pb2.PhoneOrigin(call_id=str(uuid.uuid4()), caller_number="+79161234567")
        ),
    )
    case = await intake.SubmitCase(call, metadata=operator("l1.ivanova"))
    comment = intake_pb2.AddCommentRequest(
        idempotency_key=str(uuid.uuid4()), case_number=case.number, body="Перезвонил, дополнил"
    )
    await intake.AddComment(comment, metadata=operator("l2.petrov"))
    # Read back as a specialist at the desk (the case service verifies the Keycloak token).
    reader = [("x-person-token", keycloak.token(STAFF, "l3.sidorova"))]
    async with casedesk.channel("case", caller="desk") as channel:
        cases = case_grpc.CaseServiceStub(channel)
        view = await cases.GetCase(case_pb2.GetCaseRequest(number=case.number), metadata=reader)
        history = await cases.GetHistory(
            case_pb2.GetHistoryRequest(case_id=view.case_id), metadata=reader
        )
    recorded = [
        (e.WhichOneof("payload"), e.meta.actor.kind, e.meta.actor.id, e.identified_by)
        for e in history.events
        if e.WhichOneof("payload") in ("created", "commented")
    ]
    assert recorded == [
        ("created", types_pb2.Actor.CITIZEN, "ivanov.ii", "l1.ivanova"),
        ("commented", types_pb2.Actor.CITIZEN, "ivanov.ii", "l2.petrov"),
    ]
    assert history.events[0].created.identified_by == "l1.ivanova"
    # The operator's read through intake (opening the case for his comment) is journaled as his,
    # via intake, as the specialist's reads at the desk are.
    auditor = [("x-person-token", keycloak.token(STAFF, "audit.kuznetsov"))]
    async with casedesk.channel("case", caller="desk") as channel:
        page = await case_grpc.CaseServiceStub(channel).ListAccessRecords(
            case_pb2.ListAccessRecordsRequest(case_id=view.case_id), metadata=auditor
        )
    assert [(r.rpc, r.person, r.role, r.caller, r.purpose) for r in page.records] == [
        ("GetCase", "l2.petrov", "specialist L2", "intake", "a citizen's request to an operator"),
        ("GetCase", "l3.sidorova", "specialist L3", "desk", "case work"),
        ("GetHistory", "l3.sidorova", "specialist L3", "desk", "case work"),
    ]


async def test_replicas_count_wrong_codes_together_on_postgresql(postgres_dsn: str) -> None:
    """Two intake replicas' stores on one database: nine wrong tries at once, spread over both,
    leave the code open; the tenth, on either, locks it (each try is checked and counted in one
    statement, so none is lost to a race)."""
    with fresh_schemas(postgres_dsn, "intake_codes") as (schema,):
        url = in_schema(postgres_dsn, schema)
        replicas = [await PostgresStore.open(url), await PostgresStore.open(url)]
        try:
            await replicas[0].issue_code("2026-0000001", "right", expires_at=time.time() + 600)
            tries = [
                replicas[n % 2].use_code("2026-0000001", f"wrong-{n}", time.time(), 10)
                for n in range(9)
            ]
            assert not any(await asyncio.gather(*tries))
            assert await replicas[1].use_code("2026-0000001", "right", time.time(), 10)
            assert not await replicas[0].use_code("2026-0000001", "wrong-9", time.time(), 10)
            locked = not await replicas[1].use_code("2026-0000001", "right", time.time(), 10)
            assert locked, "the tenth wrong try locked the code"
        finally:
            for store in replicas:
                await store.close()
