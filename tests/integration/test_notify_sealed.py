"""notify on sealed case events, as it runs (issue #18): a real key service (its KEK in a SoftHSM2
token, its key store on PostgreSQL), the case service with CASEDESK_SEAL_PERSONAL_DATA on, on
PostgreSQL and Kafka, and notify reaching the key service with its own certificate.

A citizen without a portal account writes by e-mail: case.events.v1 carries tokens only, and the
SMTP sink and the SMS sink receive his address, his phone, his thread's Message-ID in clear. A
specialist's public reply, sealed as the case service seals it (the case's key, its comment's
field name), reaches him in clear in the answer. No message holds a `cdk1.` token.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from support.sealing import email_case, sealing_case_env, start_key_service, start_notify
from support.services import ServiceLauncher
from test_case_sealing import TOKEN_LABEL, TOPIC, schemas  # noqa: F401 - fixtures
from test_notify_service import group_at_end, sms, smtp  # noqa: F401 - fixtures

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_keys import FieldContext, encrypt_field, header_of
from casedesk_keyservice.client import over
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_runtime import pki
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_runtime.topics import ensure_topics
from casedesk_vocabulary.enums import ActorKind, Status
from casedesk_vocabulary.sealed_fields import comment_field

pytestmark = pytest.mark.integration

CITIZEN = types_pb2.Citizen(
    full_name="Сидоров Пётр Ильич", snils="112-233-445 95",
    mobile_phone="+79167778899", email="petr.sidorov@example.ru",
)  # fmt: skip
MESSAGE_ID = "<q-17@mail.example.ru>"
ANSWER = "Пароль сброшен, войдите по ссылке из письма."


def create_request() -> pb.CreateCaseRequest:
    return email_case(
        CITIZEN,
        correlation_id="corr-notify-sealed",
        subject="Не могу войти",
        description="Пароль не подходит",
        message_id=MESSAGE_ID,
    )


async def created_event(bootstrap: str, case_id: str) -> events_pb2.CaseEvent:
    """The case's `Created` as published on case.events.v1."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = events_pb2.CaseEvent.FromString(record.value)
                    if event.meta.case_id == case_id and event.HasField("created"):
                        return event
    finally:
        await consumer.stop()
    raise AssertionError(f"no Created of {case_id} on {TOPIC} within 60 s")


async def until(condition, what: str, within_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {within_s:g} s"
        await asyncio.sleep(0.2)


async def test_notify_sends_the_plaintext_of_a_sealed_case_and_never_a_token(
    services: ServiceLauncher,
    schemas: tuple[str, str],  # noqa: F811
    postgres_env: dict[str, str],
    postgres_dsn: str,
    kafka_bootstrap: str,
    smtp: SmtpSink,  # noqa: F811
    sms: SmsSink,  # noqa: F811
    tmp_path: Path,
) -> None:
    case_schema, keys_schema = schemas
    await ensure_topics(kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    group = f"notify-sealed-{uuid.uuid4().hex[:8]}"
    await group_at_end(kafka_bootstrap, producer, group)
    keys = start_key_service(
        services, postgres_dsn, keys_schema, tmp_path, token_label=TOKEN_LABEL,
        certificates=["keys", "case", "intake", "notify"],
    )  # fmt: skip
    pki_dir = keys.pki_dir
    case = services(
        "casedesk_case",
        sealing_case_env(
            keys, postgres_env, case_schema, {"CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
        ),
    )
    start_notify(
        services, keys, kafka_bootstrap, group=group, store_path=tmp_path / "notify.sqlite3",
        smtp=smtp, sms=sms,
    )  # fmt: skip
    try:
        async with grpc.aio.secure_channel(
            case.address, pki.client_credentials(pki_dir, "intake")
        ) as intake:
            stub = case_service_pb2_grpc.CaseServiceStub(intake)
            created = await stub.CreateCase(create_request())
        published = await created_event(kafka_bootstrap, created.case_id)
        assert published.created.citizen.email.startswith("cdk1.")  # sealed on the topic

        # The acknowledgement: e-mail in his thread and SMS, in clear.
        await until(lambda: len(smtp.snapshot()) >= 1 and len(sms.accepted) >= 1, "the ack")
        [acknowledgement] = smtp.snapshot()
        assert acknowledgement.recipients == (CITIZEN.email,)
        assert acknowledgement.message["In-Reply-To"] == MESSAGE_ID
        assert created.number in acknowledgement.message["Subject"]
        assert [s.fields["to"] for s in sms.accepted] == [CITIZEN.mobile_phone]

        # A specialist's public reply and «Ответ готов», sealed as the case service seals them
        # (the key the case's tokens name, the comment's field name).
        header = header_of(published.created.citizen.email)
        async with grpc.aio.secure_channel(
            keys.address, pki.client_credentials(pki_dir, "case")
        ) as as_case:
            key = await over(as_case).client.key(header.subject, header.generation)
        stream = CaseStream(created.case_id, number=created.number)
        stream.version = 100  # after the case service's own events (ids of their own)
        reply = stream.commented(body="", comment_id="c-answer-1", by=ActorKind.SPECIALIST)
        reply.commented.body = encrypt_field(
            key, ANSWER, FieldContext(created.case_id, comment_field("c-answer-1"))
        )
        ready = stream.status_changed(to=Status.ANSWER_READY, from_=Status.IN_PROGRESS)
        for event in (reply, ready):
            await producer.send_and_wait(
                TOPIC, event.SerializeToString(), key=created.case_id.encode()
            )

        def answered() -> bool:
            return any(ANSWER in m.body("plain") for m in smtp.snapshot()) and any(
                ANSWER in s.fields["text"] for s in sms.accepted
            )

        await until(answered, "the answer in clear by e-mail and SMS")
        for message in smtp.snapshot():
            assert message.recipients == (CITIZEN.email,)
            assert b"cdk1." not in message.raw
        for text in (s.fields["text"] for s in sms.accepted):
            assert "cdk1." not in text
        assert {s.fields["to"] for s in sms.accepted} == {CITIZEN.mobile_phone}
    finally:
        await producer.stop()
