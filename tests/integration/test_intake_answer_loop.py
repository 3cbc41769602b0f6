"""The loop back to the citizen through intake (issue 19), on the real system: intake and the case
service as processes (mutual TLS, PostgreSQL, the secured broker), the specialist at the desk
signed in to Keycloak, the citizen signed in to the portal.

1. A chat citizen's WatchMyCase stream shows the specialist's public reply as it is given, and
   never his internal note.
2. The citizen's confirmation and rating, made through intake, are on `case.events.v1`.
3. A repeat through another channel (the personal account) carries its attachment to the new case.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from support.provisioning import SecureKafka
from support.system import Casedesk, read_topic, start_casedesk

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2 as S
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SPECIALIST = "l3.sidorova"  # a development user of Keycloak's casedesk realm (tier L3)
ACCOUNT = "personal-account"  # besides start_casedesk's own portal-chat frontend
ACCOUNT_TOKEN = secrets.token_urlsafe(32)
PDF = b"%PDF-1.7\n% the citizen's certificate, scanned\n"
NOTE = "Внутренняя заметка: проверить журнал входа"
REPLY = "Сбросьте пароль по ссылке «Забыли пароль?» и войдите снова."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    keycloak: Any,
) -> AsyncIterator[Casedesk]:
    frontends = tmp_path_factory.mktemp("frontends") / "frontends.toml"
    digest = hashlib.sha256(ACCOUNT_TOKEN.encode()).hexdigest()
    frontends.write_text(
        f'[[frontend]]\nname = "{ACCOUNT}"\ntoken_sha256 = "{digest}"\n'
        'channels = ["PERSONAL_ACCOUNT"]\n'
    )
    intake = {
        # Added to start_casedesk's CASEDESK_FRONTENDS (its portal-chat frontend), not instead.
        "CASEDESK_FRONTENDS_FILE": str(frontends),
        "CASEDESK_CITIZEN_RATE_PER_S": "100",
        "CASEDESK_CITIZEN_BURST": "100",
    }
    directory: Path = tmp_path_factory.mktemp("intake-answer-loop")
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak,
        services=("case", "intake"), settings={"intake": intake},
    ) as system:  # fmt: skip
        yield system


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intake(casedesk: Casedesk) -> AsyncIterator[intake_grpc.IntakeServiceStub]:
    async with casedesk.channel("intake", caller="frontend") as channel:
        yield intake_grpc.IntakeServiceStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(casedesk: Casedesk) -> AsyncIterator[case_grpc.CaseServiceStub]:
    async with casedesk.channel("case", caller="desk", person=SPECIALIST) as channel:
        yield case_grpc.CaseServiceStub(channel)


def _citizen() -> str:
    return f"e2e.loop.{uuid.uuid4().hex[:8]}"


def _in_chat(casedesk: Casedesk, login: str) -> tuple[tuple[str, str], ...]:
    return casedesk.frontend.acting_for(login)


def _in_account(casedesk: Casedesk, login: str) -> tuple[tuple[str, str], ...]:
    citizen = casedesk.frontend.portal.mint_citizen(login, expires_in=3600)
    return (("authorization", f"Bearer {ACCOUNT_TOKEN}"), ("x-citizen-token", citizen))


async def _chat_case(
    intake: intake_grpc.IntakeServiceStub, casedesk: Casedesk, login: str
) -> intake_pb2.Acknowledgement:
    request = intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=S.PORTAL_CHAT,
        citizen=S.Citizen(full_name="Петрова Анна Николаевна", mobile_phone="+79161234567"),
        content=S.CaseContent(
            subject="Не могу войти в личный кабинет", description="Пишет «неверный пароль»"
        ),
        provenance=S.Provenance(chat=S.ChatOrigin(session_id=f"chat-{uuid.uuid4().hex[:8]}")),
    )
    return await intake.SubmitCase(request, metadata=_in_chat(casedesk, login))


async def _act(desk: case_grpc.CaseServiceStub, case_id: str, action: int) -> None:
    context = case_pb2.CommandContext(idempotency_key=str(uuid.uuid4()))
    await desk.ChangeStatus(
        case_pb2.ChangeStatusRequest(context=context, case_id=case_id, action=action)
    )


async def _comment(desk: case_grpc.CaseServiceStub, case_id: str, body: str, public: bool) -> None:
    context = case_pb2.CommandContext(idempotency_key=str(uuid.uuid4()))
    await desk.AddComment(
        case_pb2.AddCommentRequest(context=context, case_id=case_id, body=body, public=public)
    )


async def _answered(
    intake: intake_grpc.IntakeServiceStub,
    desk: case_grpc.CaseServiceStub,
    casedesk: Casedesk,
    login: str,
) -> intake_pb2.Acknowledgement:
    """A chat case the specialist answered: «Ответ готов»."""
    case = await _chat_case(intake, casedesk, login)
    await _act(desk, case.case_id, case_pb2.TAKE_IN_WORK)
    await _comment(desk, case.case_id, REPLY, public=True)
    await _act(desk, case.case_id, case_pb2.ANSWER_READY_ACTION)
    return case


async def _events(casedesk: Casedesk, case_ids: set[str], done: Any) -> list[events_pb2.CaseEvent]:
    records = await read_topic(
        casedesk.kafka, casedesk.topics.case, events_pb2.CaseEvent.FromString, case_ids, done,
        timeout_s=30,
    )  # fmt: skip
    return [record.event for record in records]


async def test_the_chat_stream_shows_the_public_reply_and_never_the_internal_note(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, desk: case_grpc.CaseServiceStub
) -> None:
    login = _citizen()
    case = await _chat_case(intake, casedesk, login)
    stream = intake.WatchMyCase(
        intake_pb2.WatchMyCaseRequest(case_number=case.number),
        metadata=_in_chat(casedesk, login),
    )
    try:
        first = await asyncio.wait_for(stream.read(), 15)
        assert (first.case.number, first.case.status_label) == (case.number, "Зарегистрирована")
        await _act(desk, case.case_id, case_pb2.TAKE_IN_WORK)
        await _comment(desk, case.case_id, NOTE, public=False)
        await _comment(desk, case.case_id, REPLY, public=True)
        seen: list[intake_pb2.CitizenCaseChange] = []
        while not any(c.body == REPLY for c in (seen[-1].case.comments if seen else ())):
            seen.append(await asyncio.wait_for(stream.read(), 15))
    finally:
        stream.cancel()
    last = seen[-1]
    assert [(c.body, c.from_support) for c in last.case.comments] == [(REPLY, True)]
    assert last.case.status_label == "В работе"
    bodies = [c.body for change in seen for c in change.case.comments]
    assert NOTE not in bodies, "an internal note never reaches the citizen"
    versions = [change.version for change in (first, *seen)]
    assert versions == sorted(set(versions)), "each change once, in order"
    # Taking the case in work is an assignment (never shown) and a status change (shown); the
    # note is no change at all: the status change and the reply came, as one change when the
    # reply was stored before intake read the case for the status change.
    assert len(seen) in (1, 2)


async def test_confirm_and_rating_through_intake_are_on_the_case_topic(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, desk: case_grpc.CaseServiceStub
) -> None:
    login = _citizen()
    case = await _answered(intake, desk, casedesk, login)
    chat = _in_chat(casedesk, login)
    rated = await intake.RateAnswer(
        intake_pb2.RateAnswerRequest(
            idempotency_key=str(uuid.uuid4()), case_number=case.number, score=4,
            comment="Помогло, спасибо",
        ),
        metadata=chat,
    )  # fmt: skip
    assert (rated.rating, rated.can_rate) == (4, False)
    closed = await intake.ConfirmAnswer(
        intake_pb2.ConfirmAnswerRequest(idempotency_key=str(uuid.uuid4()), case_number=case.number),
        metadata=chat,
    )
    assert (closed.status, closed.status_label) == (S.CLOSED, "Закрыта")
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await intake.RateAnswer(
            intake_pb2.RateAnswerRequest(
                idempotency_key=str(uuid.uuid4()), case_number=case.number, score=1
            ),
            metadata=chat,
        )
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert again.value.details().startswith("an answer can be rated once")

    def complete(events: list[Any]) -> bool:
        kinds = [record.event.WhichOneof("payload") for record in events]
        return "answer_rated" in kinds and any(
            record.event.HasField("status_changed")
            and record.event.status_changed.to_status == S.CLOSED
            for record in events
        )

    events = await _events(casedesk, {case.case_id}, complete)
    (rating,) = [e for e in events if e.HasField("answer_rated")]
    assert (rating.answer_rated.score, rating.answer_rated.channel) == (4, S.PORTAL_CHAT)
    assert (rating.meta.actor.kind, rating.meta.actor.id) == (S.Actor.CITIZEN, login)
    (closing,) = [
        e for e in events
        if e.HasField("status_changed") and e.status_changed.to_status == S.CLOSED
    ]  # fmt: skip
    assert closing.status_changed.close_reason == events_pb2.ANSWER_CONFIRMED
    assert closing.meta.actor.kind == S.Actor.CITIZEN


async def test_a_repeat_through_the_personal_account_carries_its_attachment(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, desk: case_grpc.CaseServiceStub
) -> None:
    login = _citizen()
    original = await _answered(intake, desk, casedesk, login)
    request = intake_pb2.RepeatCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        case_number=original.number,
        reason="Ссылка для сброса пароля не приходит",
        channel=S.PERSONAL_ACCOUNT,
        provenance=S.Provenance(personal_account=S.PersonalAccountOrigin(form_id="feedback-form")),
        attachments=[
            intake_pb2.AttachmentUpload(
                file_name="справка.pdf", media_type="application/pdf", content=PDF
            )
        ],
    )
    repeat = await intake.RepeatCase(request, metadata=_in_account(casedesk, login))
    assert repeat.number != original.number
    assert f"по заявке № {original.number}" in repeat.text

    def complete(records: list[Any]) -> bool:
        return any(
            r.event.HasField("created") and r.event.meta.case_id == repeat.case_id for r in records
        ) and any(r.event.HasField("repeated") for r in records)

    events = await _events(casedesk, {original.case_id, repeat.case_id}, complete)
    (repeated,) = [e for e in events if e.HasField("repeated")]
    assert (repeated.meta.case_id, repeated.repeated.new_case_id) == (
        original.case_id, repeat.case_id,
    )  # fmt: skip
    (created,) = [
        e.created for e in events if e.HasField("created") and e.meta.case_id == repeat.case_id
    ]
    assert created.repeat_of == original.case_id
    assert created.channel == S.PERSONAL_ACCOUNT
    assert created.provenance.personal_account.form_id == "feedback-form"
    (attachment,) = created.attachments
    assert (attachment.file_name, attachment.media_type, attachment.size_bytes) == (
        "справка.pdf", "application/pdf", len(PDF),
    )  # fmt: skip
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    view = await intake.GetCase(
        intake_pb2.GetCaseRequest(case_number=repeat.number),
        metadata=_in_account(casedesk, login),
    )
    assert (view.channel, view.status) == (S.PERSONAL_ACCOUNT, S.REGISTERED)
