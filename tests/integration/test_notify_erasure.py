"""notify forgets an erased citizen's rows, as it runs (issue #18): a real key service (its KEK in a
SoftHSM2 token, its key store on PostgreSQL), case events sealed with its keys on Kafka, and two
notify processes, each with a store of its own, reaching the key service with notify's
certificate.

Citizens A and B each open an e-mail case; both notify processes send the acknowledgements.
A's «Ответ готов» SMS fails for now and waits out a minute's backoff. A is erased (EraseCitizen,
as the case service's retention job): within seconds, in both stores, A's card keeps no contact,
no token of his key is left, his sent notices keep their state, channel and time but no
recipient, and the SMS waiting for its retry is finished `suppressed` («citizen erased»), never
sent, journaled on notification.events.v1 without a recipient. B's rows are untouched. Then one
notify is stopped, B is erased, and that notify, started again, forgets B's rows from the
erasure it missed. Neither log names the subjects, phones or addresses.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from support.sealing import start_key_service, start_notify
from support.services import ServiceLauncher, ServiceProcess
from test_case_sealing import TOKEN_LABEL, TOPIC, schemas  # noqa: F401 - fixtures
from test_notify_service import group_at_end, sms, smtp  # noqa: F401 - fixtures

from casedesk.case.v1 import events_pb2
from casedesk.keys.v1 import key_service_pb2 as keys_pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_keys import DataKey, SubjectId, header_of
from casedesk_keyservice.client import over
from casedesk_notify.testing.sealed_events import sealed
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_runtime import pki
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_runtime.topics import ensure_topics
from casedesk_vocabulary.enums import Channel, ContactChannel, Status
from casedesk_vocabulary.sealed_fields import TOKEN_PREFIX

pytestmark = pytest.mark.integration

JOURNAL_TOPIC = "notification.events.v1"
CONTACTS = {
    "a": ("+79167770011", "andrei.a@example.ru", "<a-1@mail.example.ru>"),
    "b": ("+79035550022", "boris.b@example.ru", "<b-1@mail.example.ru>"),
}
WITHIN_S = 20.0  # the erasure journal is polled every second; a notice travels in less


def created(case: CaseStream, who: str) -> events_pb2.CaseEvent:
    phone, email, message_id = CONTACTS[who]
    citizen = a_citizen(
        full_name=f"Гражданин {who.upper()}", phone=phone, email=email, account_login="",
        preferred=ContactChannel.SMS_AND_EMAIL,
    )  # fmt: skip
    event = case.created(channel=Channel.EMAIL, citizen=citizen, subject=f"Вопрос {who}")
    event.created.provenance.email.message_id = message_id
    event.created.provenance.email.from_address = email
    return event


async def until(condition: Callable[[], bool], what: str, within_s: float = WITHIN_S) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {within_s:g} s"
        await asyncio.sleep(0.2)


class Store:
    """A notify's SQLite store, read as another process reads it (read-only, WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, *args: object) -> list[sqlite3.Row]:
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []
        finally:
            connection.close()

    def card(self, case_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM case_cards WHERE case_id = ?", case_id)
        return rows[0] if rows else None

    def deliveries(self, case_id: str) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM deliveries WHERE case_id = ? ORDER BY seq", case_id)

    def token_subjects(self) -> set[str]:
        found = set()
        for table in ("case_cards", "deliveries"):
            for row in self.query(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
                        found.add(str(header_of(value).subject))
        return found

    def forgot(self, case_id: str, subject: SubjectId) -> bool:
        card = self.card(case_id)
        return (
            card is not None
            and card["phone"] == "[erased]"
            and card["email"] == "[erased]"
            and card["thread_message_id"] == ""
            and str(subject) not in self.token_subjects()
            and all(row["recipient"] == "[erased]" for row in self.deliveries(case_id))
        )


async def journal_of(bootstrap: str, case_id: str) -> list[journal_pb2.NotificationEvent]:
    consumer = AIOKafkaConsumer(
        JOURNAL_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    found = []
    try:
        for _ in range(6):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    entry = journal_pb2.NotificationEvent.FromString(record.value)
                    if entry.meta.case_id == case_id:
                        found.append(entry)
    finally:
        await consumer.stop()
    return found


async def test_notify_forgets_an_erased_citizens_rows_on_every_replica_and_after_a_restart(
    services: ServiceLauncher,
    schemas: tuple[str, str],  # noqa: F811
    postgres_dsn: str,
    kafka_bootstrap: str,
    smtp: SmtpSink,  # noqa: F811
    sms: SmsSink,  # noqa: F811
    tmp_path: Path,
) -> None:
    _, keys_schema = schemas
    await ensure_topics(kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    keys = start_key_service(
        services, postgres_dsn, keys_schema, tmp_path, token_label=TOKEN_LABEL,
        certificates=["keys", "case", "notify"],
    )  # fmt: skip
    pki_dir = keys.pki_dir

    def notify(name: str) -> tuple[ServiceProcess, Store]:
        store = Store(tmp_path / f"notify-{name}.sqlite3")
        process = start_notify(
            services, keys, kafka_bootstrap, group=groups[name], store_path=store.path,
            smtp=smtp, sms=sms,
            settings={
                "CASEDESK_RETRY_BASE_S": "60",
                "CASEDESK_RETRY_MAX_S": "60",
                "CASEDESK_KEYS_CACHE_TTL_S": "300",  # the stream, not the TTL, is under test
            },
        )  # fmt: skip
        return process, store

    groups = {name: f"notify-erasure-{name}-{uuid.uuid4().hex[:8]}" for name in ("1", "2")}
    for group in groups.values():
        await group_at_end(kafka_bootstrap, producer, group)
    first, store_1 = notify("1")
    second, store_2 = notify("2")
    stores = (store_1, store_2)

    subject_a, subject_b = SubjectId(os.urandom(16)), SubjectId(os.urandom(16))
    cases = {
        "a": CaseStream(str(uuid.uuid4()), number="2026-0018001", channel=Channel.EMAIL),
        "b": CaseStream(str(uuid.uuid4()), number="2026-0018002", channel=Channel.EMAIL),
    }
    async with grpc.aio.secure_channel(
        keys.address, pki.client_credentials(pki_dir, "case")
    ) as as_case:
        client = over(as_case).client
        key: dict[str, DataKey] = {
            "a": await client.current_key(subject_a),
            "b": await client.current_key(subject_b),
        }
        erase = key_service_pb2_grpc.KeyServiceStub(as_case).EraseCitizen

        async def publish(who: str, event: events_pb2.CaseEvent) -> None:
            case = cases[who]
            value = sealed(event, key[who]).SerializeToString()
            await producer.send_and_wait(TOPIC, value, key=case.case_id.encode())

        try:
            for who in ("a", "b"):
                await publish(who, created(cases[who], who))
            # Both replicas acknowledge both cases by e-mail and SMS.
            await until(lambda: len(smtp.snapshot()) >= 4 and len(sms.accepted) >= 4, "acks")
            for store in stores:
                await until(
                    lambda store=store: all(
                        {r["state"] for r in store.deliveries(c.case_id)} == {"sent"}
                        for c in cases.values()
                    ),
                    "the acknowledgements recorded sent",
                )  # fmt: skip
            assert all(s.token_subjects() == {str(subject_a), str(subject_b)} for s in stores)

            # A's «Ответ готов»: the e-mails go out, the SMS fails and waits a minute.
            sms.fail_next(2)
            await publish("a", cases["a"].status_changed(to=Status.ANSWER_READY))

            def sms_waits(store: Store) -> bool:
                return any(
                    r["channel"] == "sms" and r["state"] == "pending" and r["attempts"] == 1
                    for r in store.deliveries(cases["a"].case_id)
                )

            for store in stores:
                await until(lambda store=store: sms_waits(store), "A's SMS waiting to retry")
            sms_sent = len(sms.accepted)

            await erase(
                keys_pb.EraseCitizenRequest(subjects=[str(subject_a)], reason="request 2026-18")
            )
            for store in stores:
                await until(
                    lambda store=store: store.forgot(cases["a"].case_id, subject_a),
                    "A's rows forgotten",
                )
            for store in stores:
                rows = store.deliveries(cases["a"].case_id)
                states = sorted((r["channel"], r["state"], r["last_error"] or "") for r in rows)
                assert states == [
                    ("email", "sent", ""), ("email", "sent", ""),
                    ("sms", "sent", ""), ("sms", "suppressed", "citizen erased"),
                ]  # fmt: skip
                assert all(r["finished_at"] for r in rows)  # the times stay
                card = store.card(cases["a"].case_id)
                assert card is not None and card["number"] == "2026-0018001"
                assert card["status"] == "ANSWER_READY"
                card_b = store.card(cases["b"].case_id)  # B: untouched
                assert card_b is not None and card_b["phone"].startswith(TOKEN_PREFIX)
                assert store.token_subjects() == {str(subject_b)}
            await asyncio.sleep(1.0)
            assert len(sms.accepted) == sms_sent  # the SMS never went out

            published = await journal_of(kafka_bootstrap, cases["a"].case_id)
            suppressed = [
                e for e in published
                if e.WhichOneof("payload") == "suppressed"
                and e.suppressed.reason == "citizen erased"
            ]  # fmt: skip
            assert len(suppressed) >= 2  # one per replica (the same event id from each)
            assert all(e.recipient_masked == "[erased]" for e in suppressed)

            # A replica down while B is erased catches up when it comes back.
            second.terminate()
            await erase(
                keys_pb.EraseCitizenRequest(subjects=[str(subject_b)], reason="request 2026-19")
            )
            await until(lambda: store_1.forgot(cases["b"].case_id, subject_b), "B on notify 1")
            assert not store_2.forgot(cases["b"].case_id, subject_b)  # it was down
            second.start(timeout=60)
            await until(lambda: store_2.forgot(cases["b"].case_id, subject_b), "B on notify 2")
            assert all(s.token_subjects() == set() for s in stores)
        finally:
            await producer.stop()

    for process in (first, second):
        log = process.log_path.read_text(encoding="utf-8", errors="replace")
        assert "erased citizens' rows forgotten" in log
        for secret in (str(subject_a), str(subject_b), *CONTACTS["a"], *CONTACTS["b"]):
            assert secret not in log, f"{secret!r} in {process.log_path.name}"
