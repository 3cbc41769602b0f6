"""A Kafka outage under load ends by itself: nothing lost, nothing doubled, the logs stay quiet.

The system (intake, the case service on PostgreSQL, sla, and notify with a real SMTP server and
SMS gateway) runs on a broker of its own. A chat frontend keeps submitting cases through intake
and a specialist keeps taking each one in work while the broker is stopped for one minute and
for five (CASEDESK_TEST_OUTAGES_S, seconds, comma-separated; `make test-outage-long` runs 15
minutes), then started again. Nothing is restarted. Afterwards:
- every command was answered while the broker was away (Kafka is not on the command path);
- the outbox is empty: every stored event is on case.events.v1;
- every acknowledged case produced exactly one acknowledgement e-mail and one SMS, and every
  acknowledged status change exactly one e-mail and one SMS (by Message-ID / client message id;
  the SMS gateway deduplicates client message ids as notify expects of a production gateway, and
  the requests it absorbed are counted);
- every case's SLA clocks started on sla.events.v1;
- the case service wrote fewer than 100 log lines from the broker's stop to the outbox drained;
- duplicate records on the topics are counted and printed as `OUTAGE <metric> <value>` lines.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support.people import Keycloak
from support.provisioning import RestartableKafka, SessionInfrastructure
from support.system import MESSAGE_ID_DOMAIN, Casedesk, Kafka, start_casedesk

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2 as S
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_case.cli.outbox_status import OutboxStatus, read_status
from casedesk_notify.domain import DeliveryChannel as Channel
from casedesk_notify.domain.identity import message_id, notification_id
from casedesk_runtime.topics import existing_partitions

pytestmark = pytest.mark.integration

OUTAGES_S = [int(s) for s in os.environ.get("CASEDESK_TEST_OUTAGES_S", "60,300").split(",")]
CASES_PER_S = 8.0
LOG_LINES_ALLOWED = 100
NOTIFYING = ("created", "status_changed", "escalated")
E = TypeVar("E")


@pytest.fixture(scope="module")
def broker(infrastructure: SessionInfrastructure) -> RestartableKafka:
    # Secured as in production: TLS and SCRAM re-authentication are part of what must recover.
    return infrastructure.restartable_secure_kafka()


@dataclass(frozen=True)
class Citizen:
    login: str
    email: str
    phone: str

    @classmethod
    def new(cls) -> Citizen:
        login = f"outage.{uuid.uuid4().hex[:10]}"
        return cls(login, f"{login}@example.ru", f"+7916{uuid.uuid4().int % 10**7:07d}")

    def submission(self) -> intake_pb2.SubmitCaseRequest:
        return intake_pb2.SubmitCaseRequest(
            idempotency_key=str(uuid.uuid4()),
            channel=S.PORTAL_CHAT,
            citizen=S.Citizen(
                full_name="Петрова Анна Николаевна", account_login=self.login,
                mobile_phone=self.phone, email=self.email,
            ),
            content=S.CaseContent(subject="Не приходит СМС-код", description="Код не приходит"),
            provenance=S.Provenance(chat=S.ChatOrigin(session_id=f"chat-{uuid.uuid4().hex[:8]}")),
        )  # fmt: skip


@dataclass
class Load:
    """What the frontend and the specialist were told: acknowledged cases and status changes."""

    cases: dict[str, Citizen] = field(default_factory=dict)
    taken_in_work: set[str] = field(default_factory=set)
    refused: collections.Counter[str] = field(default_factory=collections.Counter)


async def steady_load(system: Casedesk, load: Load, stop: asyncio.Event) -> None:
    """New chat cases at CASES_PER_S, each taken in work by a specialist a second later."""
    async with (
        system.channel("intake", caller="frontend") as intake_channel,
        system.channel("case", caller="desk", person="l1.ivanova") as case_channel,
    ):
        intake = intake_grpc.IntakeServiceStub(intake_channel)
        cases = case_grpc.CaseServiceStub(case_channel)
        loop = asyncio.get_running_loop()
        running: set[asyncio.Task[None]] = set()
        due = loop.time()
        while not stop.is_set():
            task = asyncio.create_task(one_case(system, intake, cases, load))
            running.add(task)
            task.add_done_callback(running.discard)
            due += 1 / CASES_PER_S
            await asyncio.sleep(max(0.0, due - loop.time()))
        await asyncio.gather(*running)


async def one_case(
    system: Casedesk, intake: Any, cases: case_grpc.CaseServiceStub, load: Load
) -> None:
    citizen = Citizen.new()
    try:
        ack = await intake.SubmitCase(
            citizen.submission(), metadata=system.frontend.acting_for(citizen.login), timeout=15
        )
    except grpc.aio.AioRpcError as error:
        load.refused[f"SubmitCase {error.code().name}"] += 1
        return
    load.cases[ack.case_id] = citizen
    await asyncio.sleep(1.0)
    context = case_pb2.CommandContext(
        idempotency_key=str(uuid.uuid4())  # the actor: the person of the desk's token
    )
    request = case_pb2.ChangeStatusRequest(
        context=context, case_id=ack.case_id, action=case_pb2.TAKE_IN_WORK
    )
    try:
        await cases.ChangeStatus(request, timeout=15)
    except grpc.aio.AioRpcError as error:
        load.refused[f"ChangeStatus {error.code().name}"] += 1
        return
    load.taken_in_work.add(ack.case_id)


async def read_to_end(
    kafka: Kafka, topic: str, decode: Callable[[bytes], E]
) -> list[tuple[int, int, E]]:
    """Every record of `topic` up to its end offsets now: (partition, offset, decoded value)."""
    numbers = (await existing_partitions([topic], **kafka.connection()))[topic]
    partitions = [TopicPartition(topic, number) for number in numbers]
    consumer = AIOKafkaConsumer(**kafka.connection(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[int, int, E]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                records += [(r.partition, r.offset, decode(r.value or b"")) for r in batch]
        return records
    finally:
        await consumer.stop()


def log_lines(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


async def outbox(system: Casedesk) -> OutboxStatus:
    return await asyncio.to_thread(read_status, system.topics.case, system.case_store_env)


async def until(what: str, timeout_s: float, check: Callable[[], Any]) -> float:
    """Await `check()` (sync or async) until truthy; return the seconds it took."""
    started = time.monotonic()
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.5)


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str, object], None]]:
    lines: list[str] = []
    yield lambda metric, value: lines.append(f"OUTAGE {metric} {value}")
    with capsys.disabled():  # the figures belong in the CI log, pass or fail
        print("\n" + "\n".join(lines))


@pytest.fixture
async def system(
    broker: RestartableKafka,
    keycloak: Keycloak,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path: Path,
) -> AsyncIterator[Casedesk]:
    async with start_casedesk(
        broker.access, postgres_env, postgres_dsn, tmp_path, keycloak=keycloak,
        services=("case", "intake", "sla", "notify"),
        # Like a production gateway, the SMS sink honours notify's client message ids: a retry
        # after an answer that timed out on this loaded machine is absorbed, and counted below.
        sms_gateway_deduplicates=True,
        # The production deadlines: no SLA breach (nor escalation) within the test's minutes.
        settings={"sla": {"CASEDESK_SLA_POLICY_VERSION": "2023.1"}},
    ) as running:  # fmt: skip
        yield running


@pytest.mark.parametrize("outage_s", OUTAGES_S, ids=lambda s: f"broker-away-{s}s")
@pytest.mark.timeout(max(OUTAGES_S) + 900)
async def test_a_broker_outage_under_load_ends_without_a_restart(
    broker: RestartableKafka,
    system: Casedesk,
    outage_s: int,
    report: Callable[[str, object], None],
) -> None:
    load, stop_load = Load(), asyncio.Event()
    generator = asyncio.create_task(steady_load(system, load, stop_load))
    try:
        await asyncio.sleep(10)  # the system in its stride, publishing as it goes
        lines_before = log_lines(system.case.log_path)
        await asyncio.to_thread(broker.stop)
        stopped_at = time.monotonic()
        await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - stopped_at)))
        await asyncio.to_thread(broker.start)
        away_s = time.monotonic() - stopped_at
        # The backlog of the outage gone while the load goes on: publishing has resumed.
        recovery_s = await until(
            "the outbox relay to publish the outage's backlog", 300,
            lambda: _caught_up(system),
        )  # fmt: skip
        lines_during = log_lines(system.case.log_path) - lines_before
        await asyncio.sleep(10)
    finally:
        stop_load.set()
        await generator
    await until("an empty outbox", 120, lambda: _empty(system))

    report(f"broker_away_s[{outage_s}]", round(away_s))
    report(f"recovery_s[{outage_s}]", round(recovery_s, 1))
    report(f"case_log_lines[{outage_s}]", lines_during)
    assert not load.refused, f"commands refused while Kafka was away: {dict(load.refused)}"
    assert len(load.cases) >= CASES_PER_S * outage_s * 0.8

    # Every acknowledged case and change is on case.events.v1, each event at least once.
    decode = events_pb2.CaseEvent.FromString
    records = await read_to_end(system.kafka, system.topics.case, decode)
    events = _distinct(record[2] for record in records)
    report(f"case_events[{outage_s}]", len(events))
    report(f"case_event_duplicates[{outage_s}]", len(records) - len(events))
    kinds = collections.Counter((e.meta.case_id, e.WhichOneof("payload")) for e in events.values())
    assert {case_id for case_id, kind in kinds if kind == "created"} == set(load.cases)
    changed = {c for (c, kind), n in kinds.items() if kind == "status_changed" and n == 1}
    assert changed == load.taken_in_work
    for case_id in load.cases:
        versions = sorted(e.meta.case_version for e in events.values() if e.meta.case_id == case_id)
        assert versions == list(range(1, len(versions) + 1)), f"{case_id}: a hole in {versions}"

    # Exactly one e-mail and one SMS per notifying event: nothing lost, nothing doubled.
    notifying = [e for e in events.values() if e.WhichOneof("payload") in NOTIFYING]
    report(f"notifying_events[{outage_s}]", len(notifying))
    want_mail = {_mail_id(e) for e in notifying}
    want_sms = {_sms_id(e) for e in notifying}
    delivery_s = await until(
        f"{len(notifying)} e-mails and SMS", 300,
        lambda: _seen(system, want_mail, want_sms),
    )  # fmt: skip
    report(f"notifications_drained_s[{outage_s}]", round(delivery_s, 1))
    await asyncio.sleep(3)  # anything sent twice arrives meanwhile
    mails = collections.Counter(m.message_id for m in system.smtp.snapshot())
    texts = collections.Counter(s.fields["client_message_id"] for s in list(system.sms.accepted))
    report(f"emails[{outage_s}]", sum(mails.values()))
    report(f"sms[{outage_s}]", sum(texts.values()))
    report(f"sms_requests_repeated_after_timeout[{outage_s}]", len(system.sms.repeated))
    assert {k: n for k, n in mails.items() if n > 1} == {}, "an e-mail sent twice"
    assert {k: n for k, n in texts.items() if n > 1} == {}, "an SMS sent twice"
    assert set(mails) == want_mail and set(texts) == want_sms
    for case_id, citizen in load.cases.items():
        expected = 2 if case_id in load.taken_in_work else 1
        got = [m for m in system.smtp.snapshot() if m.recipients == (citizen.email,)]
        assert len(got) == expected, f"{case_id}: {len(got)} e-mails, expected {expected}"

    # The SLA service's own producer came through too: every case's clocks started.
    sla = await read_to_end(system.kafka, system.topics.sla, sla_pb2.SlaEvent.FromString)
    sla_events = _distinct(record[2] for record in sla)
    report(f"sla_events[{outage_s}]", len(sla_events))
    report(f"sla_event_duplicates[{outage_s}]", len(sla) - len(sla_events))
    started = {e.meta.case_id for e in sla_events.values() if e.WhichOneof("payload") == "started"}
    missing = set(load.cases) - started
    assert not missing, f"{len(missing)} cases without SLA clocks"

    assert lines_during < LOG_LINES_ALLOWED, f"{lines_during} log lines while Kafka was away"


def _distinct(events: Iterator[Any] | Any) -> dict[str, Any]:
    """By event id; a re-published record must repeat the first one exactly."""
    seen: dict[str, Any] = {}
    for event in events:
        first = seen.setdefault(event.meta.event_id, event)
        assert first == event, f"event {event.meta.event_id} published with other content"
    return seen


async def _caught_up(system: Casedesk) -> bool:
    status = await outbox(system)
    return (status.oldest_unpublished_age_s or 0.0) < 5.0


async def _empty(system: Casedesk) -> bool:
    return (await outbox(system)).unpublished == 0


def _seen(system: Casedesk, mails: set[str], texts: set[str]) -> bool:
    sent_mails = {m.message_id for m in system.smtp.snapshot()}
    sent_texts = {s.fields["client_message_id"] for s in list(system.sms.accepted)}
    return sent_mails >= mails and sent_texts >= texts


def _mail_id(event: events_pb2.CaseEvent) -> str:
    return message_id(notification_id(event.meta.event_id, Channel.EMAIL), MESSAGE_ID_DOMAIN)


def _sms_id(event: events_pb2.CaseEvent) -> str:
    return notification_id(event.meta.event_id, Channel.SMS)
