"""Intake and the case service as processes on real PostgreSQL and Kafka.

A case from each of the six channels goes frontend -> intake -> case service -> case.events.v1
with its channel's provenance; an e-mail whose subject carries the case number lands on that
case as a comment.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from support.postgres_schemas import in_schema

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider
from casedesk_runtime.topics import ensure_topics

TOPIC = "case.events.v1"
TOKEN = "integration-frontend-token-5f0c"
CHANNELS = ("PORTAL_CHAT", "PERSONAL_ACCOUNT", "EMAIL", "PHONE", "SOCIAL", "MFC")
PROVENANCE = {
    "PORTAL_CHAT": types_pb2.Provenance(chat=types_pb2.ChatOrigin(session_id="chat-1")),
    "PERSONAL_ACCOUNT": types_pb2.Provenance(
        personal_account=types_pb2.PersonalAccountOrigin(form_id="feedback")
    ),
    "EMAIL": types_pb2.Provenance(
        email=types_pb2.EmailOrigin(message_id="m-1@example.ru", from_address="ivanov@example.ru")
    ),
    "PHONE": types_pb2.Provenance(
        # A call from abroad: the operator identified the caller the three ways the seed asks.
        phone=types_pb2.PhoneOrigin(
            call_id="call-1",
            caller_number="+49 151 23456789",
            caller_checks=[
                types_pb2.PROFILE_MOBILE_NUMBER,
                types_pb2.PROFILE_NAME_BIRTH_DATE_SNILS,
                types_pb2.SMS_ONE_TIME_CODE,
            ],
        )
    ),
    "SOCIAL": types_pb2.Provenance(
        social=types_pb2.SocialOrigin(network="vk", post_reference="-1_2")
    ),
    "MFC": types_pb2.Provenance(mfc=types_pb2.MfcOrigin(office_code="MFC-77", operator_id="op-1")),
}


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[str]:
    name = f"intake_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def case_service(services: Any, postgres_env: dict[str, str], kafka_bootstrap: str, schema: str):
    asyncio.run(ensure_topics(kafka_bootstrap))
    return services(
        "casedesk_case",
        {
            **postgres_env,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_SCHEMA": schema,
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CASEDESK_FOLLOW_IDLE_S": "0.1",
            "CASEDESK_SHUTDOWN_GRACE_S": "1",
        },
    )


@pytest.fixture
def portal() -> Iterator[FakeIdentityProvider]:
    """The portal's sign-in, vouching for citizens (a real issuer of signed tokens over HTTP)."""
    with FakeIdentityProvider(realm="portal", audience="casedesk-intake") as issuer:
        yield issuer


@pytest.fixture
def intake_service(
    services: Any,
    case_service: Any,
    postgres_dsn: str,
    schema: str,
    tmp_path: Path,
    portal: FakeIdentityProvider,
) -> Any:
    frontend = {
        "name": "integration-desk",
        "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "channels": list(CHANNELS),
    }
    return services(
        "casedesk_intake",
        {
            "CASEDESK_CASE_ADDRESS": case_service.address,
            "CASEDESK_DATABASE_URL": in_schema(postgres_dsn, schema),
            "CASEDESK_DATA_DIR": str(tmp_path / "intake"),
            "CASEDESK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CASEDESK_FRONTENDS": json.dumps([frontend]),
            "CASEDESK_CITIZEN_OIDC_ISSUER": portal.issuer,
            "CASEDESK_CITIZEN_OIDC_AUDIENCE": "casedesk-intake",
            "CASEDESK_SHUTDOWN_GRACE_S": "1",
        },
    )


@pytest.fixture
async def intake(intake_service: Any) -> AsyncIterator[intake_grpc.IntakeServiceStub]:
    async with grpc.aio.insecure_channel(intake_service.address) as channel:
        yield intake_grpc.IntakeServiceStub(channel)


@pytest.fixture
def acting_for(portal: FakeIdentityProvider) -> Callable[..., tuple[tuple[str, str], ...]]:
    """The frontend's metadata: its bearer token and, for a signed-in citizen, the portal's
    token naming them."""

    def metadata(login: str | None = "ivanov.ii") -> tuple[tuple[str, str], ...]:
        pairs = [("authorization", f"Bearer {TOKEN}")]
        if login:
            pairs.append(("x-citizen-token", portal.mint_citizen(login)))
        return tuple(pairs)

    return metadata


def submission(channel: str) -> intake_pb2.SubmitCaseRequest:
    return intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.Channel.Value(channel),
        citizen=types_pb2.Citizen(
            full_name="Иванов Иван Иванович",
            snils="112-233-445 95",
            mobile_phone="+79123456789",
            email="ivanov@example.ru",
        ),
        content=types_pb2.CaseContent(
            subject="Не приходит СМС-код", description=f"Обращение через канал {channel}"
        ),
        provenance=PROVENANCE[channel],
    )


async def published(
    bootstrap: str, wanted: dict[str, set[str]], timeout: float = 60.0
) -> dict[str, dict[str, events_pb2.CaseEvent]]:
    """Events of the given cases, by case id and payload kind, once every wanted kind arrived."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: dict[str, dict[str, events_pb2.CaseEvent]] = {case_id: {} for case_id in wanted}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and any(
            not kinds <= set(found[case_id]) for case_id, kinds in wanted.items()
        ):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = events_pb2.CaseEvent.FromString(record.value)
                    if event.meta.case_id in found:
                        found[event.meta.case_id][event.WhichOneof("payload")] = event
    finally:
        await consumer.stop()
    return found


async def test_every_channel_reaches_kafka_with_its_provenance_and_mail_replies_comment(
    intake: intake_grpc.IntakeServiceStub,
    kafka_bootstrap: str,
    acting_for: Callable[..., tuple[tuple[str, str], ...]],
) -> None:
    acknowledgements = {}
    for channel in CHANNELS:
        login = None if channel in ("EMAIL", "SOCIAL", "PHONE", "MFC") else "ivanov.ii"
        reply = await intake.SubmitCase(submission(channel), metadata=acting_for(login))
        assert reply.status == types_pb2.REGISTERED and reply.number
        assert reply.deadlines.HasField("resolution_due") and reply.text
        acknowledgements[channel] = reply

    email_case = acknowledgements["EMAIL"]
    message = EmailMessage()
    message["From"] = "Иван Иванов <ivanov@example.ru>"
    message["Subject"] = f"Re: Обращение в службу поддержки - {email_case.number}"
    message["Message-ID"] = f"<{uuid.uuid4()}@example.ru>"
    message.set_content("Код так и не пришёл, прикладываю скриншот.")
    outcome = await intake.IngestEmail(
        intake_pb2.IngestEmailRequest(
            idempotency_key=message["Message-ID"], raw_message=message.as_bytes()
        ),
        metadata=acting_for(None),
    )
    assert outcome.WhichOneof("outcome") == "commented"
    assert outcome.commented.number == email_case.number

    wanted = {reply.case_id: {"created"} for reply in acknowledgements.values()}
    wanted[email_case.case_id] = {"created", "commented"}
    events = await published(kafka_bootstrap, wanted)

    for channel, reply in acknowledgements.items():
        created = events[reply.case_id].get("created")
        assert created is not None, f"no Created event for the {channel} case"
        assert types_pb2.Channel.Name(created.created.channel) == channel
        assert created.created.number == reply.number
        origin = created.created.provenance
        assert origin.WhichOneof("origin") == PROVENANCE[channel].WhichOneof("origin")
        assert created.created.citizen.snils == "11223344595"
    social = events[acknowledgements["SOCIAL"].case_id]["created"].created.provenance.social
    assert (social.network, social.post_reference) == ("vk", "-1_2")
    phone = events[acknowledgements["PHONE"].case_id]["created"].created.provenance.phone
    assert phone.from_abroad and phone.caller_number == "+4915123456789"
    assert len(phone.caller_checks) == 3  # how the caller was identified reaches the case
    comment = events[email_case.case_id]["commented"].commented
    assert comment.public and comment.body == "Код так и не пришёл, прикладываю скриншот."


async def test_retries_and_the_citizens_follow_ups(
    intake: intake_grpc.IntakeServiceStub,
    kafka_bootstrap: str,
    acting_for: Callable[..., tuple[tuple[str, str], ...]],
) -> None:
    request = submission("PERSONAL_ACCOUNT")
    first = await intake.SubmitCase(request, metadata=acting_for())
    again = await intake.SubmitCase(request, metadata=acting_for())
    assert again == first
    # The case list is an index the case service updates right after the command: poll briefly.
    numbers: list[str] = []
    for _ in range(50):
        mine = await intake.ListMyCases(intake_pb2.ListMyCasesRequest(), metadata=acting_for())
        numbers = [c.number for c in mine.cases]
        if first.number in numbers:
            break
        await asyncio.sleep(0.1)
    assert numbers == [first.number]

    comment = intake_pb2.AddCommentRequest(
        idempotency_key=str(uuid.uuid4()), case_number=first.number, body="Уточнение"
    )
    await intake.AddComment(comment, metadata=acting_for())
    await intake.AddComment(comment, metadata=acting_for())
    escalation = intake_pb2.RequestEscalationRequest(
        idempotency_key=str(uuid.uuid4()),
        case_number=first.number,
        reason=events_pb2.CRITICAL_ERROR,
        explanation="Портал недоступен",
    )
    await intake.RequestEscalation(escalation, metadata=acting_for())
    seen = await intake.GetCase(
        intake_pb2.GetCaseRequest(case_number=first.number), metadata=acting_for()
    )
    assert [(c.body, c.from_support) for c in seen.comments] == [("Уточнение", False)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intake.GetCase(
            intake_pb2.GetCaseRequest(case_number=first.number), metadata=acting_for("petrov")
        )
    # Another citizen's case answers exactly as a case that does not exist.
    assert (refused.value.code(), refused.value.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "case not found",
    )

    events = await published(
        kafka_bootstrap, {first.case_id: {"created", "commented", "escalation_requested"}}
    )
    requested = events[first.case_id]["escalation_requested"].escalation_requested
    assert (requested.reason, requested.explanation) == (
        events_pb2.CRITICAL_ERROR,
        "Портал недоступен",
    )
