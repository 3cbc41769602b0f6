"""notify as a real process on real Kafka, sending to a real SMTP server and an HTTP SMS sink.

Case events are produced to case.events.v1 as the case service's relay would; every test uses
its own consumer group, committed at the topic's end before notify starts, so the history other
tests left on the topic is not replayed. The tests that arm a receiver to fail use a private
source topic, so that nothing but their own events can take the armed failures.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from support.services import ServiceLauncher, ServiceProcess

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.domain import DeliveryChannel as Channel
from casedesk_notify.domain.identity import message_id, notification_id
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_runtime.topics import TopicSpec, ensure_topics
from casedesk_vocabulary.enums import ActorKind, Status
from casedesk_vocabulary.enums import Channel as CaseChannel

# The channels of status notices (SOCIAL carries only replies, to social cases).
NOTICES = (Channel.EMAIL, Channel.SMS)

pytestmark = pytest.mark.integration

DOMAIN = "notify.casedesk.test"
PORTAL = "https://portal.test/cases"
LIFECYCLE = [  # after REGISTERED
    Status.IN_PROGRESS,
    Status.WAITING_FOR_CITIZEN,
    Status.IN_PROGRESS,
    Status.ANSWER_READY,
    Status.CLOSED,
]
LABELS = {
    types_pb2.IN_PROGRESS: "В работе",
    types_pb2.WAITING_FOR_CITIZEN: "Требуется уточнение",
    types_pb2.ANSWER_READY: "Ответ готов",
    types_pb2.CLOSED: "Закрыта",
}


@pytest.fixture
async def kafka(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def private_topic(kafka_bootstrap: str) -> str:
    name = f"case.events.v1.notify-test-{uuid.uuid4().hex[:8]}"
    specs = (TopicSpec(name, partitions=3), TopicSpec(f"{name}.dlq.notify", partitions=1))
    await ensure_topics(kafka_bootstrap, specs)
    return name


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
async def sms() -> AsyncIterator[SmsSink]:
    sink = await SmsSink(token="sms-token").start()
    yield sink
    await sink.stop()


async def group_at_end(
    bootstrap: str, producer: AIOKafkaProducer, group: str, topic: str = events.TOPIC
) -> None:
    """Commit `group`'s offsets at the end of `topic`, as if it had consumed everything so far."""
    partitions = [TopicPartition(topic, p) for p in await producer.partitions_for(topic)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await consumer.stop()


@pytest.fixture
async def notify_env(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink, tmp_path: Path
) -> dict[str, str]:
    group = f"notify-test-{uuid.uuid4().hex[:8]}"
    await group_at_end(kafka_bootstrap, kafka, group)
    return {
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASEDESK_CONSUMER_GROUP": group,
        "CASEDESK_STORE_PATH": str(tmp_path / "notify.sqlite3"),
        "CASEDESK_SMTP_HOST": "127.0.0.1",
        "CASEDESK_SMTP_PORT": str(smtp.port),
        "CASEDESK_MESSAGE_ID_DOMAIN": DOMAIN,
        "CASEDESK_SMS_GATEWAY_URL": sms.url,
        "CASEDESK_SMS_GATEWAY_TOKEN": "sms-token",
        "CASEDESK_PORTAL_BASE_URL": PORTAL,
        "CASEDESK_RETRY_BASE_S": "0.05",
        "CASEDESK_RETRY_MAX_S": "0.5",
        "CASEDESK_MAX_ATTEMPTS": "20",
    }


@pytest.fixture
def start_notify(services: ServiceLauncher) -> Callable[[dict[str, str]], ServiceProcess]:
    def start(env: dict[str, str]) -> ServiceProcess:
        return services("casedesk_notify", env, timeout=60)

    return start


def phone_of(index: int) -> str:
    return f"+7916{index:07d}"


def case_story(index: int) -> tuple[str, list[events_pb2.CaseEvent]]:
    # One citizen per case (own address and phone), as in life: notify holds notices beyond
    # CASEDESK_RECIPIENT_LIMIT per recipient and hour.
    case_id = f"case-{uuid.uuid4()}"
    case = CaseStream(case_id, number=f"2026-{index:07d}")
    citizen = a_citizen(email=f"citizen{index}@example.org", phone=phone_of(index))
    story = [case.created(citizen=citizen)]
    story += [case.status_changed(to=status) for status in LIFECYCLE]
    return case_id, story


async def produce(
    producer: AIOKafkaProducer,
    stories: list[list[events_pb2.CaseEvent]],
    topic: str = events.TOPIC,
) -> None:
    for story in stories:
        for event in story:
            await producer.send(
                topic, value=event.SerializeToString(), key=event.meta.case_id.encode()
            )
    await producer.flush()


def expected_ids(stories: list[list[events_pb2.CaseEvent]], channel: Channel) -> list[str]:
    return [notification_id(e.meta.event_id, channel) for story in stories for e in story]


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def received(smtp: SmtpSink, sms: SmsSink, ids: set[str]) -> tuple[list[str], list[str]]:
    """Notification ids of what the two receivers accepted, restricted to `ids`."""
    emails = [m.message_id.strip("<>").split("@")[0] for m in smtp.snapshot()]
    texts = [s.fields["client_message_id"] for s in sms.accepted]
    return [i for i in emails if i in ids], [i for i in texts if i in ids]


async def journal_of(bootstrap: str, case_ids: set[str], want: int) -> list:
    consumer = AIOKafkaConsumer(
        "notification.events.v1", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        group_id=f"journal-reader-{uuid.uuid4()}", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    found: list = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(found) < want and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for record in (r for batch in batches.values() for r in batch):
                event = journal_pb2.NotificationEvent.FromString(record.value)
                if event.meta.case_id in case_ids:
                    found.append(event)
    finally:
        await consumer.stop()
    return found


async def test_one_email_and_one_sms_per_change_with_the_right_russian_text(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify,
) -> None:  # fmt: skip
    notify = await asyncio.to_thread(start_notify, notify_env)
    cases = [case_story(i) for i in range(3)]
    stories = [story for _, story in cases]
    await produce(kafka, stories)
    email_ids, sms_ids = expected_ids(stories, Channel.EMAIL), expected_ids(stories, Channel.SMS)
    wanted = set(email_ids) | set(sms_ids)
    await until(lambda: sum(map(len, received(smtp, sms, wanted))) >= len(wanted), 60, "all")
    await asyncio.sleep(1.0)  # anything doubled would arrive meanwhile
    got_emails, got_sms = received(smtp, sms, wanted)
    assert sorted(got_emails) == sorted(email_ids)
    assert sorted(got_sms) == sorted(sms_ids)

    by_id = {m.message_id: m for m in smtp.snapshot()}
    texts = {s.fields["client_message_id"]: s.fields for s in sms.accepted}
    for index, story in enumerate(stories):
        number = f"2026-{index:07d}"
        for event in story:
            mail = by_id[message_id(notification_id(event.meta.event_id, Channel.EMAIL), DOMAIN)]
            sms_fields = texts[notification_id(event.meta.event_id, Channel.SMS)]
            assert mail.message["Subject"] == f"Обращение в службу поддержки - {number}"
            assert mail.recipients == (f"citizen{index}@example.org",)
            assert sms_fields["to"] == phone_of(index)
            assert f"{PORTAL}/{number}" in mail.body("plain")
            if event.HasField("created"):
                assert f"зарегистрировано под номером {number}" in mail.body("plain")
                assert sms_fields["text"].startswith(f"Обращение {number} зарегистрировано")
            else:
                label = LABELS[event.status_changed.to_status]
                assert f"изменился: «{label}»" in mail.body("plain")
                assert f"«{label}»" in mail.body("html")
                assert sms_fields["text"].startswith(f"Обращение {number}: статус «{label}».")

    journal = await journal_of(kafka_bootstrap, {c for c, _ in cases}, want=2 * len(wanted))
    stages = collections.Counter(e.WhichOneof("payload") for e in journal)
    assert stages == {"requested": len(wanted), "sent": len(wanted)}
    assert all(phone_of(i) not in e.recipient_masked for e in journal for i in range(3))
    assert all("@example.org" in e.recipient_masked or e.recipient_masked.startswith("+***")
               for e in journal)  # fmt: skip
    segments = {e.sent.sms_segments for e in journal if e.WhichOneof("payload") == "sent"
                and e.channel == journal_pb2.SMS}  # fmt: skip
    assert segments <= {1, 2} and 1 in segments
    assert await asyncio.to_thread(notify.terminate) == 0  # SIGTERM: graceful, clean exit


async def test_smtp_answering_4xx_for_a_while_is_retried_into_single_deliveries(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    smtp.fail_next(8)
    await asyncio.to_thread(
        start_notify, {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic}
    )
    case_id, story = case_story(1)
    await produce(kafka, [story], private_topic)
    email_ids = expected_ids([story], Channel.EMAIL)
    await until(lambda: len(received(smtp, sms, set(email_ids))[0]) >= len(email_ids), 60, "mail")
    await asyncio.sleep(1.0)
    assert smtp.refused == 8
    assert sorted(received(smtp, sms, set(email_ids))[0]) == sorted(email_ids)
    journal = await journal_of(kafka_bootstrap, {case_id}, want=4 * len(email_ids) + 8)
    failed = [e for e in journal if e.WhichOneof("payload") == "failed"]
    assert len(failed) == 8
    assert all(e.failed.temporary and "451" in e.failed.error for e in failed)


async def test_a_permanent_sms_failure_is_dead_lettered(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    sms.fail_next(1, 400)
    await asyncio.to_thread(
        start_notify, {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic}
    )
    case_id = f"case-{uuid.uuid4()}"
    created = CaseStream(case_id, number="2026-0099999").created()
    await produce(kafka, [[created]], private_topic)
    dlq = AIOKafkaConsumer(
        f"{private_topic}.dlq.notify", bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest", group_id=f"dlq-reader-{uuid.uuid4()}",
    )  # fmt: skip
    await dlq.start()
    try:
        parked = None
        while parked is None:
            record = await asyncio.wait_for(dlq.getone(), timeout=60)
            if record.key == case_id.encode():
                parked = record
    finally:
        await dlq.stop()
    assert parked.value == created.SerializeToString()
    assert b"HTTP 400" in dict(parked.headers)["casedesk-dlq"]
    journal = await journal_of(kafka_bootstrap, {case_id}, want=5)
    assert sorted(e.WhichOneof("payload") for e in journal) == [
        "dead_lettered", "failed", "requested", "requested", "sent",
    ]  # fmt: skip


async def test_kill_9_mid_batch_loses_nothing_and_doubles_nothing(
    kafka: AIOKafkaProducer, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify,
) -> None:  # fmt: skip
    # Paced, so that the kill lands while most of the batch is still to be sent.
    env = {**notify_env, "CASEDESK_EMAIL_RATE_PER_S": "150", "CASEDESK_EMAIL_BURST": "1",
           "CASEDESK_SMS_RATE_PER_S": "150", "CASEDESK_SMS_BURST": "1"}  # fmt: skip
    notify = await asyncio.to_thread(start_notify, env)
    stories = [case_story(i)[1] for i in range(50)]
    await produce(kafka, stories)
    email_ids, sms_ids = expected_ids(stories, Channel.EMAIL), expected_ids(stories, Channel.SMS)
    wanted = set(email_ids) | set(sms_ids)
    await until(lambda: len(received(smtp, sms, wanted)[0]) >= 60, 60, "the first e-mails")
    await asyncio.to_thread(notify.kill)
    at_kill = [len(ids) for ids in received(smtp, sms, wanted)]
    assert at_kill[0] < len(email_ids), "the kill came too late to test anything"

    await asyncio.to_thread(notify.start)
    await until(
        lambda: all(len(set(got)) == len(ids) for got, ids in
                    zip(received(smtp, sms, wanted), (email_ids, sms_ids), strict=True)),
        90, "every notification after the restart",
    )  # fmt: skip
    await asyncio.sleep(1.5)
    got_emails, got_sms = received(smtp, sms, wanted)
    # No loss: every (event, channel) arrived. No duplicate: each arrived exactly once, except
    # at most the few in flight at the kill (provider accepted, `sent` not yet committed), which
    # carry the same Message-ID / client id and so are recognised downstream.
    assert set(got_emails) == set(email_ids) and set(got_sms) == set(sms_ids)
    in_flight_bound = 16 + 16  # SMTP pool size + SMS in-flight cap (the defaults)
    doubled = (len(got_emails) - len(email_ids)) + (len(got_sms) - len(sms_ids))
    assert doubled <= in_flight_bound, f"{doubled} duplicates beyond the documented window"
    for ids in (got_emails, got_sms):
        counts = collections.Counter(ids)
        assert max(counts.values()) <= 2


async def test_an_smtp_timeout_after_data_is_resent_once_under_the_same_message_id_and_reported(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    # The server keeps the message and answers after notify stopped waiting: possibly accepted.
    smtp.stall_next(1, 3.0, at="data")
    await asyncio.to_thread(
        start_notify,
        {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic,
         "CASEDESK_SMTP_DATA_TIMEOUT_S": "0.5"},
    )  # fmt: skip
    case_id = f"case-{uuid.uuid4()}"
    created = CaseStream(case_id, number="2026-0098001").created(
        citizen=a_citizen(email="stalled@example.org", phone=phone_of(98001))
    )
    await produce(kafka, [[created]], private_topic)
    [email_id] = expected_ids([[created]], Channel.EMAIL)
    await until(lambda: len(received(smtp, sms, {email_id})[0]) >= 2, 60, "the resend")
    await asyncio.sleep(1.0)
    assert received(smtp, sms, {email_id})[0] == [email_id, email_id]  # one Message-ID, twice
    journal = await journal_of(kafka_bootstrap, {case_id}, want=5)
    email_entries = [e for e in journal if e.channel == journal_pb2.EMAIL]
    assert [e.WhichOneof("payload") for e in email_entries] == ["requested", "failed", "sent"]
    unknown = email_entries[1].failed
    assert unknown.temporary and "outcome unknown" in unknown.error
    assert "same Message-ID" in unknown.error


async def test_ivan_at_pochta_rf_is_delivered_by_an_smtputf8_server(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    utf8 = SmtpSink(smtputf8=True).start()
    try:
        await asyncio.to_thread(
            start_notify,
            {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic,
             "CASEDESK_SMTP_PORT": str(utf8.port)},
        )  # fmt: skip
        case = CaseStream(f"case-{uuid.uuid4()}", number="2026-0098002")
        created = case.created(citizen=a_citizen(email="ivan@почта.рф", phone=phone_of(98002)))
        await produce(kafka, [[created]], private_topic)
        [email_id] = expected_ids([[created]], Channel.EMAIL)
        await until(lambda: bool(received(utf8, sms, {email_id})[0]), 60, "the e-mail")
        [mail] = [m for m in utf8.snapshot() if email_id in m.message_id]
        assert mail.recipients == ("ivan@почта.рф",) and mail.smtputf8
        assert "2026-0098002" in mail.body("plain")
    finally:
        utf8.stop()


async def test_a_burst_to_one_recipient_is_held_and_merged_to_the_current_status(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    await asyncio.to_thread(
        start_notify,
        {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic,
         "CASEDESK_RECIPIENT_LIMIT": "2", "CASEDESK_RECIPIENT_WINDOW_S": "2"},
    )  # fmt: skip
    case_id, story = case_story(98003)  # created + five status changes within a second
    await produce(kafka, [story], private_topic)
    sms_ids = expected_ids([story], Channel.SMS)
    # Registration and «В работе» at once; the three statuses in between are replaced by the
    # last one, «Закрыта», which goes when the window has room.
    await until(lambda: len(received(smtp, sms, set(sms_ids))[1]) >= 3, 60, "the held SMS")
    await asyncio.sleep(1.0)
    assert received(smtp, sms, set(sms_ids))[1] == [sms_ids[0], sms_ids[1], sms_ids[-1]]
    assert "«Закрыта»" in sms.accepted[-1].fields["text"]
    journal = await journal_of(kafka_bootstrap, {case_id}, want=2 * (6 + 3 + 4))
    sms_payloads = [e.WhichOneof("payload") for e in journal if e.channel == journal_pb2.SMS]
    assert "failed" not in sms_payloads  # a decision of notify's is no failed attempt
    decided = sorted(p for p in sms_payloads if p in ("held", "superseded"))
    assert decided == ["held", "superseded", "superseded", "superseded"]


async def test_a_citizens_answer_to_a_clarification_is_told_as_received_not_as_work_started(
    kafka: AIOKafkaProducer, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    await asyncio.to_thread(
        start_notify, {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic}
    )
    case = CaseStream(f"case-{uuid.uuid4()}", number="2026-0098004")
    case.created(citizen=a_citizen(email="answered@example.org", phone=phone_of(98004)))
    taken = case.status_changed(to=Status.IN_PROGRESS)
    case.status_changed(to=Status.WAITING_FOR_CITIZEN)
    case.commented(body="Оператор МТС", by=ActorKind.CITIZEN)  # no notice of its own
    answered = case.status_changed(to=Status.IN_PROGRESS, by=ActorKind.CITIZEN)
    await produce(kafka, [case.events], private_topic)
    wanted = {notification_id(e.meta.event_id, c) for e in (taken, answered) for c in NOTICES}
    await until(lambda: sum(map(len, received(smtp, sms, wanted))) >= 4, 60, "the notices")

    mails = {m.message_id: m.body("plain") for m in smtp.snapshot()}
    texts = {s.fields["client_message_id"]: s.fields["text"] for s in sms.accepted}
    told = mails[message_id(notification_id(answered.meta.event_id, Channel.EMAIL), DOMAIN)]
    assert "изменился: «В работе»" in told
    assert "Ваш ответ на запрос уточнения получен" in told
    assert "приступил" not in told
    assert texts[notification_id(answered.meta.event_id, Channel.SMS)] == (
        "Обращение 2026-0098004: статус «В работе». Ваш ответ получен."
    )
    started = mails[message_id(notification_id(taken.meta.event_id, Channel.EMAIL), DOMAIN)]
    assert "Специалист приступил к работе над обращением." in started


async def test_a_reply_and_answer_ready_make_one_email_and_one_sms_and_a_lone_reply_its_own(
    kafka: AIOKafkaProducer, kafka_bootstrap: str, smtp: SmtpSink, sms: SmsSink,
    notify_env: dict[str, str], start_notify, private_topic: str,
) -> None:  # fmt: skip
    window_s = 5.0
    await asyncio.to_thread(
        start_notify,
        {**notify_env, "CASEDESK_CASE_EVENTS_TOPIC": private_topic,
         "CASEDESK_REPLY_MERGE_WINDOW_S": str(window_s)},
    )  # fmt: skip
    answer = "Код отправлен повторно, проверьте СМС."
    # An e-mail case of a citizen without a portal account: the notice carries the answer.
    pair = CaseStream(f"case-{uuid.uuid4()}", number="2026-0098005", channel=CaseChannel.EMAIL)
    pair.created(citizen=a_citizen(email="reply@example.org", phone=phone_of(98005),
                                   account_login=""))  # fmt: skip
    reply = pair.commented(body=answer)
    ready = pair.status_changed(to=Status.ANSWER_READY)
    lone = CaseStream(f"case-{uuid.uuid4()}", number="2026-0098006")
    lone.created(citizen=a_citizen(email="lone@example.org", phone=phone_of(98006)))
    lone_reply = lone.commented(body=answer)
    await produce(kafka, [pair.events, lone.events], private_topic)

    merged = {notification_id(e.meta.event_id, c) for e in (reply, ready) for c in NOTICES}
    lone_ids = {notification_id(lone_reply.meta.event_id, c) for c in NOTICES}
    await until(lambda: sum(map(len, received(smtp, sms, lone_ids))) >= 2,
                60, "the lone reply's notices after its window")  # fmt: skip
    await asyncio.sleep(1.0)  # anything more would have arrived meanwhile
    ready_ids = {notification_id(ready.meta.event_id, c) for c in NOTICES}
    assert received(smtp, sms, merged) == (
        [notification_id(ready.meta.event_id, Channel.EMAIL)],
        [notification_id(ready.meta.event_id, Channel.SMS)],
    )  # one e-mail and one SMS: «Ответ готов», carrying the reply
    [mail] = [m for m in smtp.snapshot() if m.message_id.strip("<>").split("@")[0] in ready_ids]
    assert "изменился: «Ответ готов»" in mail.body("plain")
    assert f"Ответ специалиста:\n{answer}" in mail.body("plain")
    [text] = [s for s in sms.accepted if s.fields["client_message_id"] in ready_ids]
    assert text.fields["text"] == f"Обращение 2026-0098005: статус «Ответ готов». Ответ: {answer}"

    # The lone reply went on its own, once, when its window had ended.
    stamped = lone_reply.meta.occurred_at.ToDatetime(UTC).timestamp()
    lone_mails = [m for m in smtp.snapshot() if m.message_id.strip("<>").split("@")[0] in lone_ids]
    assert len(lone_mails) == 1 and lone_mails[0].accepted_at >= stamped + window_s
    assert "Специалист ответил на ваше обращение № 2026-0098006" in lone_mails[0].body("plain")

    journal = await journal_of(kafka_bootstrap, {pair.case_id}, want=3 * 4)
    assert [e for e in journal if e.WhichOneof("payload") == "failed"] == []
    merged = [e.merged for e in journal if e.WhichOneof("payload") == "merged"]
    assert sorted(m.into_notification_id for m in merged) == sorted(ready_ids)
    assert all(m.reason.startswith(f"merged into {m.into_notification_id}: ") for m in merged)
