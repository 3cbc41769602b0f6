"""The secured broker (issue 15): SASL_SSL with SCRAM-SHA-512, the StandardAuthorizer denying what
no ACL allows, and one principal per service granted what the topic ownership rule gives it.

The session's secured broker (`secure_kafka`, shared with the whole-system tests), on the
catalogue's own topic names; the session's PLAINTEXT broker is untouched.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from support.provisioning import SecureKafka

from casedesk_runtime.kafka import consumer_config, producer_config
from casedesk_runtime.publishing import OutgoingRecord, Publisher, producer_starter

pytestmark = pytest.mark.integration

CASE_EVENTS = "case.events.v1"
NOTIFICATION_EVENTS = "notification.events.v1"


async def _send_raw(producer_kwargs: dict[str, object], topic: str) -> None:
    producer = AIOKafkaProducer(**{"request_timeout_ms": 10_000, **producer_kwargs})
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"x", key=b"k"), timeout=30)
    finally:
        await producer.stop()


async def test_a_client_without_credentials_cannot_connect(secure_kafka: SecureKafka) -> None:
    # TLS alone (no SASL handshake) and PLAINTEXT are both refused by the SASL_SSL listener.
    with pytest.raises(KafkaConnectionError):
        await _send_raw({**secure_kafka.connection(None), "client_id": "anonymous"}, CASE_EVENTS)
    with pytest.raises(KafkaConnectionError):
        await _send_raw({"bootstrap_servers": secure_kafka.bootstrap}, CASE_EVENTS)


async def test_a_wrong_password_is_refused(secure_kafka: SecureKafka) -> None:
    connection = {**secure_kafka.connection("case"), "sasl_plain_password": "not-the-password"}
    with pytest.raises(KafkaError):
        await _send_raw(connection, CASE_EVENTS)


async def test_case_writes_case_events_and_sla_reads_them(secure_kafka: SecureKafka) -> None:
    case = secure_kafka.service_settings("case")
    publisher = Publisher(producer_starter(case, "casedesk-case-test"), name="secured case")
    marker = uuid.uuid4().hex.encode()
    try:
        delivered = await asyncio.wait_for(
            publisher.deliver([OutgoingRecord(CASE_EVENTS, marker, key=marker)]), timeout=60
        )
    finally:
        await publisher.aclose()
    assert delivered

    sla = secure_kafka.service_settings("sla")
    consumer = AIOKafkaConsumer(CASE_EVENTS, **consumer_config(sla, group_id="casedesk-sla"))
    await consumer.start()
    try:

        async def find() -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                if any(r.value == marker for records in batches.values() for r in records):
                    return

        await asyncio.wait_for(find(), timeout=60)
        await consumer.commit()  # the group's offsets: READ on group casedesk-sla
    finally:
        await consumer.stop()


async def test_notify_cannot_write_case_events_but_writes_its_own(
    secure_kafka: SecureKafka,
) -> None:
    notify = secure_kafka.service_settings("notify")
    with pytest.raises(TopicAuthorizationFailedError):
        await _send_raw(producer_config(notify, "casedesk-notify-test"), CASE_EVENTS)
    await _send_raw(producer_config(notify, "casedesk-notify-test"), NOTIFICATION_EVENTS)


async def test_sla_cannot_read_with_a_group_it_does_not_own(secure_kafka: SecureKafka) -> None:
    sla = secure_kafka.service_settings("sla")
    consumer = AIOKafkaConsumer(CASE_EVENTS, **consumer_config(sla, group_id="notify"))
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
            await asyncio.wait_for(consumer.getmany(timeout_ms=5000), timeout=30)
    finally:
        await consumer.stop()
