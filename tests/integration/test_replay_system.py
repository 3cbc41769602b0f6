"""Issue 9 acceptance: the analysts' replay counts exactly what the running services recorded.

The case service (PostgreSQL), sla (`test-seconds` policy: first response 4 s, resolution 8 s),
escalation (the packaged policy, 30-minute cooldown) and notify (a real SMTP server and HTTP SMS
gateway on 127.0.0.1) run as processes. About two thousand cases are created through
CaseService.CreateCase, 32 in flight, and each is taken through one of ten fixed lifecycles, so a
known share ends in every status; the ones left open breach and are escalated, answered ones are
sometimes escalated by the citizen, and notify tells the citizen about every step. Once the
services have settled, `casedesk-replay export` reads the four topics and its tables must agree
with the services themselves: ListCases and GetCase, the breaches and decisions read back from
their topics, the journal's Sent entries and what the SMTP server and the SMS gateway accepted.

The services run on topics with a unique prefix (the replay's `--topic-prefix`) and the case
service on its own schema; every count is still restricted to this test's case ids.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import grpc
import psycopg
import pyarrow.parquet as pq
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support.services import ServiceLauncher, ServiceProcess

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2 as T
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_replay.topics import Stream, TopicMap
from casedesk_runtime.topics import TOPICS, TopicSpec, ensure_topics, existing_partitions

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

CASES = 2000
IN_FLIGHT = 32
SETTLE_TIMEOUT_S = 90.0
QUIET_S = 2.0  # no new record on any topic for this long, once everything else holds
MESSAGE_ID_DOMAIN = "notify.replay-system.test"
SMS_TOKEN = "replay-system-sms-token"
REPLAY = Path(sys.executable).with_name("casedesk-replay")


class Step(Enum):
    TAKE = pb.TAKE_IN_WORK
    ASK = pb.ASK_CLARIFICATION
    ANSWER = pb.ANSWER_READY_ACTION
    CLOSE = pb.CLOSE
    CITIZEN_REPLY = "citizen answers the clarification"  # back to IN_PROGRESS
    COMPLAIN = "citizen finds the answer unsatisfying"  # escalation request


@dataclass(frozen=True)
class Lifecycle:
    steps: tuple[Step, ...]
    final: T.Status.ValueType

    @property
    def left_open(self) -> bool:
        """Its resolution clock keeps running, so it must breach under test-seconds."""
        return self.final in (T.REGISTERED, T.IN_PROGRESS)


S = Step
# Case i follows LIFECYCLES[i % 10]: 20% unanswered, 10% left in work, 10% waiting for the
# citizen, 30% answered (one in three of those escalated by the citizen), 30% closed.
LIFECYCLES = (
    Lifecycle((), T.REGISTERED),
    Lifecycle((), T.REGISTERED),
    Lifecycle((S.TAKE,), T.IN_PROGRESS),
    Lifecycle((S.TAKE, S.ASK), T.WAITING_FOR_CITIZEN),
    Lifecycle((S.TAKE, S.ANSWER), T.ANSWER_READY),
    Lifecycle((S.TAKE, S.ANSWER, S.COMPLAIN), T.ANSWER_READY),
    Lifecycle((S.TAKE, S.ASK, S.ANSWER), T.ANSWER_READY),
    Lifecycle((S.TAKE, S.ANSWER, S.CLOSE), T.CLOSED),
    Lifecycle((S.TAKE, S.ANSWER, S.CLOSE), T.CLOSED),
    Lifecycle((S.TAKE, S.ASK, S.CITIZEN_REPLY, S.ANSWER, S.CLOSE), T.CLOSED),
)
CHANNELS = (T.PORTAL_CHAT, T.PHONE, T.EMAIL, T.PERSONAL_ACCOUNT, T.SOCIAL)
CONTACTS = (T.CONTACT_SMS, T.CONTACT_EMAIL, T.CONTACT_SMS_AND_EMAIL)
NOTIFYING = frozenset({"created", "status_changed", "escalated"})


def lifecycle(index: int) -> Lifecycle:
    return LIFECYCLES[index % len(LIFECYCLES)]


# -- the system -----------------------------------------------------------------------------


@dataclass
class System:
    bootstrap: str
    topics: TopicMap
    case: ServiceProcess
    smtp: SmtpSink
    sms: SmsSink


@dataclass(frozen=True)
class Wiring:
    """What every service of this test shares: the broker, the topics, a run suffix, a folder."""

    bootstrap: str
    topics: TopicMap
    suffix: str
    directory: Path

    def env(self, **variables: str) -> dict[str, str]:
        shared = {
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CASEDESK_SHUTDOWN_GRACE_S": "1",
        }
        return {**shared, **variables}

    def topic(self, stream: Stream) -> str:
        return self.topics.topic(stream)

    def catalogue(self) -> tuple[TopicSpec, ...]:
        """The catalogue's four topics and their dead-letter topics, under our prefix."""
        names = set(TopicMap().topics(Stream))
        return tuple(
            TopicSpec(self.topics.prefix + spec.name, spec.partitions, spec.retention_ms)
            for spec in TOPICS
            if spec.name.split(".dlq.")[0] in names
        )


def case_env(wiring: Wiring, postgres_env: dict[str, str], schema: str) -> dict[str, str]:
    return wiring.env(
        **postgres_env,
        PERSISTENCE_MODULE="eventsourcing.postgres",
        POSTGRES_SCHEMA=schema,
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topic(Stream.CASE),
        CASEDESK_FOLLOW_IDLE_S="0.1",
    )


def sla_env(wiring: Wiring) -> dict[str, str]:
    return wiring.env(
        CASEDESK_SLA_POLICY_VERSION="test-seconds",
        CASEDESK_SLA_DB_PATH=str(wiring.directory / "sla.sqlite3"),
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topic(Stream.CASE),
        CASEDESK_SLA_EVENTS_TOPIC=wiring.topic(Stream.SLA),
        CASEDESK_SLA_CONSUMER_GROUP=f"sla-replay-system-{wiring.suffix}",
    )


def escalation_env(wiring: Wiring, case: ServiceProcess) -> dict[str, str]:
    # The packaged policy, cooldown included: an unanswered case's resolution breach, 4 s after
    # its first-response breach, is rejected, so the journal holds rejections as well.
    return wiring.env(
        CASEDESK_CASE_ADDRESS=case.address,
        CASEDESK_ESCALATION_SQLITE_PATH=str(wiring.directory / "escalation.sqlite"),
        CASEDESK_ESCALATION_CONSUMER_GROUP=f"escalation-replay-system-{wiring.suffix}",
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topic(Stream.CASE),
        CASEDESK_SLA_EVENTS_TOPIC=wiring.topic(Stream.SLA),
        CASEDESK_ESCALATION_DECISIONS_TOPIC=wiring.topic(Stream.ESCALATION),
    )


def notify_env(wiring: Wiring, smtp: SmtpSink, sms: SmsSink) -> dict[str, str]:
    return wiring.env(
        CASEDESK_CONSUMER_GROUP=f"notify-replay-system-{wiring.suffix}",
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topic(Stream.CASE),
        CASEDESK_NOTIFICATION_EVENTS_TOPIC=wiring.topic(Stream.NOTIFICATION),
        CASEDESK_STORE_PATH=str(wiring.directory / "notify.sqlite3"),
        CASEDESK_SMTP_HOST="127.0.0.1",
        CASEDESK_SMTP_PORT=str(smtp.port),
        CASEDESK_MESSAGE_ID_DOMAIN=MESSAGE_ID_DOMAIN,
        CASEDESK_SMS_GATEWAY_URL=sms.url,
        CASEDESK_SMS_GATEWAY_TOKEN=SMS_TOKEN,
        CASEDESK_DEADLINE_POLICY_VERSION="test-seconds",
        # Every notifying event is counted as its own notice here, and hundreds of cases share
        # few citizens: neither the reply window's merging nor the per-recipient limit applies.
        CASEDESK_REPLY_MERGE_WINDOW_S="0",
        CASEDESK_RECIPIENT_LIMIT="0",
        # The production provider limits (100 e-mails, 50 SMS a second) would have the test
        # wait on token buckets rather than on the system.
        CASEDESK_EMAIL_RATE_PER_S="5000",
        CASEDESK_EMAIL_BURST="5000",
        CASEDESK_SMS_RATE_PER_S="5000",
        CASEDESK_SMS_BURST="5000",
    )


def _sql(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]  # a generated schema name


@pytest.fixture
async def system(
    services: ServiceLauncher,
    kafka_bootstrap: str,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path: Path,
) -> AsyncIterator[System]:
    suffix = uuid.uuid4().hex[:8]
    wiring = Wiring(kafka_bootstrap, TopicMap(f"it-replay-system-{suffix}."), suffix, tmp_path)
    await ensure_topics(kafka_bootstrap, wiring.catalogue())
    schema = f"case_replay_{suffix}"
    await asyncio.to_thread(_sql, postgres_dsn, f"CREATE SCHEMA {schema}")
    smtp = SmtpSink().start()
    sms = await SmsSink(token=SMS_TOKEN).start()

    async def start(module: str, env: dict[str, str]) -> ServiceProcess:
        # From a thread: the SMS gateway shares this event loop and must keep serving meanwhile.
        return await asyncio.to_thread(services, module, env, timeout=60.0)

    try:
        case = await start("casedesk_case", case_env(wiring, postgres_env, schema))
        # Every start is awaited, even after one failed, so that none outlives stop_all().
        started = await asyncio.gather(
            start("casedesk_sla", sla_env(wiring)),
            start("casedesk_escalation", escalation_env(wiring, case)),
            start("casedesk_notify", notify_env(wiring, smtp, sms)),
            return_exceptions=True,
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield System(kafka_bootstrap, wiring.topics, case, smtp, sms)
    finally:
        await asyncio.to_thread(services.stop_all)
        await sms.stop()
        smtp.stop()
        await asyncio.to_thread(_sql, postgres_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# -- what the services recorded, read back from their topics --------------------------------

CaseKeyed = dict[str, tuple[str, ...]]  # event or notification id -> (case id, ...)


@dataclass
class Ledger:
    """The four topics folded as their producers mean them, independently of the replay tool.

    Keyed by event (or notification) id, so a record published twice counts once; every value
    starts with the case id, so that `mine()` restricts any of them to this test's cases.
    """

    created: CaseKeyed = field(default_factory=dict)  # Created event id -> (case,)
    notifying: CaseKeyed = field(default_factory=dict)  # Created, StatusChanged, Escalated
    escalated: CaseKeyed = field(default_factory=dict)  # -> (case, to tier)
    requests: CaseKeyed = field(default_factory=dict)  # EscalationRequested -> (case,)
    breaches: CaseKeyed = field(default_factory=dict)  # Breached -> (case, target)
    decisions: CaseKeyed = field(default_factory=dict)  # -> (case, "accepted" | "rejected")
    requested: CaseKeyed = field(default_factory=dict)  # notification id -> (case, source event)
    sent: CaseKeyed = field(default_factory=dict)  # notification id -> (case, channel)
    dead: CaseKeyed = field(default_factory=dict)  # notification id -> (case,)
    last_record_at: float = field(default_factory=time.monotonic)

    def fold(self, stream: Stream, value: bytes) -> None:
        self.last_record_at = time.monotonic()
        if stream is Stream.CASE:
            self._case_event(events_pb2.CaseEvent.FromString(value))
        elif stream is Stream.SLA:
            sla = sla_pb2.SlaEvent.FromString(value)
            if sla.WhichOneof("payload") == "breached":
                target = sla_pb2.Target.Name(sla.target)
                self.breaches[sla.meta.event_id] = (sla.meta.case_id, target)
        elif stream is Stream.ESCALATION:
            decision = escalation_pb2.EscalationDecision.FromString(value)
            verdict = "accepted" if decision.accepted else "rejected"
            self.decisions[decision.meta.event_id] = (decision.meta.case_id, verdict)
        else:
            self._journal_entry(journal_pb2.NotificationEvent.FromString(value))

    def _case_event(self, event: events_pb2.CaseEvent) -> None:
        meta, payload = event.meta, event.WhichOneof("payload")
        if payload in NOTIFYING:
            self.notifying[meta.event_id] = (meta.case_id,)
        if payload == "created":
            self.created[meta.event_id] = (meta.case_id,)
        elif payload == "escalated":
            self.escalated[meta.event_id] = (meta.case_id, T.Tier.Name(event.escalated.to_tier))
        elif payload == "escalation_requested":
            self.requests[meta.event_id] = (meta.case_id,)

    def _journal_entry(self, entry: journal_pb2.NotificationEvent) -> None:
        case_id, key = entry.meta.case_id, entry.notification_id
        payload = entry.WhichOneof("payload")
        if payload == "requested":
            self.requested[key] = (case_id, entry.source_event_id)
        elif payload == "sent":
            self.sent[key] = (case_id, journal_pb2.DeliveryChannel.Name(entry.channel))
        elif payload == "dead_lettered":
            self.dead[key] = (case_id,)


def mine(entries: CaseKeyed, case_ids: set[str]) -> CaseKeyed:
    return {key: value for key, value in entries.items() if value[0] in case_ids}


async def follow(ledger: Ledger, bootstrap: str, topics: TopicMap) -> None:
    """Fold every record of the four topics into `ledger` until cancelled (no group, no commit)."""
    streams = {topics.topic(stream): stream for stream in Stream}
    found = await existing_partitions(list(streams), bootstrap_servers=bootstrap)
    partitions = [TopicPartition(topic, p) for topic, numbers in found.items() for p in numbers]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while True:
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    ledger.fold(streams[tp.topic], record.value or b"")
    finally:
        await consumer.stop()


# -- the workload: cases through the case service's API -------------------------------------


def command(kind: T.Actor.Kind.ValueType, actor: str) -> pb.CommandContext:
    return pb.CommandContext(idempotency_key=str(uuid.uuid4()), actor=T.Actor(kind=kind, id=actor))


def create_request(index: int, run: str) -> pb.CreateCaseRequest:
    login = f"replay.{run}.{index:05d}"
    return pb.CreateCaseRequest(
        context=command(T.Actor.SYSTEM, "intake"),
        channel=CHANNELS[index // len(LIFECYCLES) % len(CHANNELS)],
        type=T.TECHNICAL,
        category=T.TECHNICAL_FAULT if index % 2 else T.REGISTRATION_SIGN_IN,
        citizen=T.Citizen(
            full_name="Смирнова Ольга Петровна",
            account_login=login,
            mobile_phone=f"+7916{index:07d}",
            email=f"{login}@example.ru",
            preferred_contact=CONTACTS[index % len(CONTACTS)],
        ),
        content=T.CaseContent(
            subject="Не загружается раздел «Мои заявления»",
            description="Страница отвечает ошибкой с утра",
        ),
    )


async def take_step(
    cases: case_service_pb2_grpc.CaseServiceStub, view: pb.CaseView, step: Step
) -> None:
    citizen = command(T.Actor.CITIZEN, view.citizen.account_login)
    if step is Step.CITIZEN_REPLY:
        body = "Прикладываю снимок экрана с ошибкой"
        await cases.AddComment(
            pb.AddCommentRequest(context=citizen, case_id=view.case_id, body=body, public=True)
        )
    elif step is Step.COMPLAIN:
        reason = events_pb2.UNSATISFYING_ANSWER
        await cases.RequestEscalation(
            pb.RequestEscalationRequest(context=citizen, case_id=view.case_id, reason=reason)
        )
    else:
        specialist = command(T.Actor.SPECIALIST, view.assignee or "specialist-on-duty")
        if step is Step.ANSWER:  # «Ответ готов» only after the answer itself
            answer = command(T.Actor.SPECIALIST, view.assignee or "specialist-on-duty")
            await cases.AddComment(pb.AddCommentRequest(
                context=answer, case_id=view.case_id, body="Ошибка исправлена", public=True
            ))  # fmt: skip
        await cases.ChangeStatus(
            pb.ChangeStatusRequest(context=specialist, case_id=view.case_id, action=step.value)
        )


async def live_through(cases: case_service_pb2_grpc.CaseServiceStub, index: int, run: str) -> str:
    """Create case `index` and take it through its lifecycle at once; returns its id."""
    view = await cases.CreateCase(create_request(index, run))
    for step in lifecycle(index).steps:
        await take_step(cases, view, step)
    return view.case_id


async def generate(cases: case_service_pb2_grpc.CaseServiceStub, count: int) -> dict[int, str]:
    """Case index -> case id, `IN_FLIGHT` lifecycles at a time."""
    run, pending, created = uuid.uuid4().hex[:6], iter(range(count)), {}

    async def worker() -> None:
        for index in pending:  # one shared iterator: each index is taken once
            created[index] = await live_through(cases, index, run)

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return created


# -- settling -------------------------------------------------------------------------------


def received(system: System, notifications: set[str]) -> list[tuple[str, str]]:
    """(notification id, channel) of every message the SMTP server and the SMS gateway accepted
    for `notifications`, one per message received: a duplicate delivery shows up twice."""
    emails = [
        (mail.message_id.strip("<>").split("@")[0], "EMAIL") for mail in system.smtp.snapshot()
    ]
    texts = [(sms.fields.get("client_message_id", ""), "SMS") for sms in list(system.sms.accepted)]
    return [(key, channel) for key, channel in emails + texts if key in notifications]


def owed(ledger: Ledger, system: System, created: dict[int, str]) -> list[str]:
    """What the services still have to record about our cases; empty once they have settled."""
    ours = set(created.values())
    problems = []
    if unseen := len(ours - {case for (case,) in ledger.created.values()}):
        problems.append(f"{unseen} cases not yet published")
    breached = set(mine(ledger.breaches, ours).values())
    due = {(case, "RESOLUTION") for i, case in created.items() if lifecycle(i).left_open}
    due |= {
        (case, "FIRST_RESPONSE")
        for i, case in created.items()
        if lifecycle(i).final == T.REGISTERED
    }
    if unbreached := len(due - breached):
        problems.append(f"{unbreached} clocks of open cases not breached yet")
    complaining = {case for i, case in created.items() if Step.COMPLAIN in lifecycle(i).steps}
    if unheard := len(complaining - {case for (case,) in ledger.requests.values()}):
        problems.append(f"{unheard} escalation requests not yet published")
    triggers = len(mine(ledger.breaches, ours)) + len(mine(ledger.requests, ours))
    decisions = mine(ledger.decisions, ours)
    if len(decisions) != triggers:
        problems.append(f"{len(decisions)} decisions for {triggers} breaches and requests")
    accepted = sum(verdict == "accepted" for _, verdict in decisions.values())
    if (escalated := len(mine(ledger.escalated, ours))) != accepted:
        problems.append(f"{escalated} cases escalated for {accepted} accepted decisions")
    requested = mine(ledger.requested, ours)
    announced = {source for _, source in requested.values()}
    if unannounced := len(mine(ledger.notifying, ours).keys() - announced):
        problems.append(f"{unannounced} case events without notifications requested")
    sent = mine(ledger.sent, ours)
    if unfinished := len(requested.keys() - sent.keys() - mine(ledger.dead, ours).keys()):
        problems.append(f"{unfinished} notifications not sent yet")
    if (delivered := len(received(system, set(requested)))) != len(sent):
        problems.append(f"{delivered} messages received for {len(sent)} sent")
    if time.monotonic() - ledger.last_record_at < QUIET_S:
        problems.append("records still arriving")
    return problems


async def settle(
    ledger: Ledger, system: System, created: dict[int, str], following: asyncio.Task[None]
) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while problems := owed(ledger, system, created):
        if following.done():
            following.result()  # the reader failed: say why
            raise AssertionError("the topic reader stopped")
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled in {SETTLE_TIMEOUT_S:.0f} s: {'; '.join(problems)}")
        await asyncio.sleep(0.5)


# -- the case service's own answers ---------------------------------------------------------


async def listed(
    cases: case_service_pb2_grpc.CaseServiceStub, ours: set[str]
) -> dict[str, tuple[str, str]]:
    """Case id -> (status, tier) of our cases from ListCases, status by status, page by page."""
    found = {}
    for status in (T.REGISTERED, T.IN_PROGRESS, T.WAITING_FOR_CITIZEN, T.ANSWER_READY, T.CLOSED):
        token = ""
        while True:
            page = await cases.ListCases(
                pb.ListCasesRequest(status=status, page_size=500, page_token=token)
            )
            for summary in page.cases:
                if summary.case_id in ours:
                    found[summary.case_id] = (T.Status.Name(status), T.Tier.Name(summary.tier))
            if not (token := page.next_page_token):
                break
    return found


async def listed_once_indexed(
    cases: case_service_pb2_grpc.CaseServiceStub, expected: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """ListCases reads the case index, a projection that may lag the events by a moment."""
    deadline = time.monotonic() + 30.0
    while (found := await listed(cases, set(expected))) != expected:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return found


async def tiers(cases: case_service_pb2_grpc.CaseServiceStub, ids: set[str]) -> dict[str, str]:
    """Case id -> tier from GetCase: the aggregate itself, not the index."""
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def tier(case_id: str) -> tuple[str, str]:
        async with limit:
            view = await cases.GetCase(pb.GetCaseRequest(case_id=case_id))
        return case_id, T.Tier.Name(view.tier)

    return dict(await asyncio.gather(*(tier(case_id) for case_id in ids)))


# -- the replay -----------------------------------------------------------------------------


async def export(system: System, out: Path, ours: set[str]) -> dict[str, list[dict]]:
    """`casedesk-replay export` as an analyst runs it; our cases' rows of every table."""
    process = await asyncio.create_subprocess_exec(
        str(REPLAY),
        "export",
        "--bootstrap",
        system.bootstrap,
        "--topic-prefix",
        system.topics.prefix,
        "--out",
        str(out),
        "--no-progress",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=120.0)
    assert process.returncode == 0, err.decode(errors="replace")
    names = ("cases", "sla_outcomes", "escalations", "notifications")
    return {
        name: [
            row
            for row in pq.read_table(out / f"{name}.parquet").to_pylist()
            if row["case_id"] in ours
        ]
        for name in names
    }


# -- the counts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """The headline numbers an analyst reads off the replay."""

    cases_per_status: Counter[str]
    cases_per_tier: Counter[str]
    breaches_per_target: Counter[str]
    escalations: int
    escalation_requests: int
    decisions: Counter[str]  # "accepted" / "rejected"
    notifications_sent_per_channel: Counter[str]


def recorded_counts(
    listed: dict[str, tuple[str, str]], ledger: Ledger, messages: list[tuple[str, str]]
) -> Counts:
    """As the services recorded them: the case service's ListCases, the SLA, escalation and
    case topics read back, and the messages the SMTP server and the SMS gateway received."""
    ours = set(listed)
    return Counts(
        cases_per_status=Counter(status for status, _ in listed.values()),
        cases_per_tier=Counter(tier for _, tier in listed.values()),
        breaches_per_target=Counter(target for _, target in mine(ledger.breaches, ours).values()),
        escalations=len(mine(ledger.escalated, ours)),
        escalation_requests=len(mine(ledger.requests, ours)),
        decisions=Counter(verdict for _, verdict in mine(ledger.decisions, ours).values()),
        notifications_sent_per_channel=Counter(channel for _, channel in messages),
    )


def exported_counts(tables: dict[str, list[dict]]) -> Counts:
    """The same numbers from the replay's exported tables."""
    cases, escalations = tables["cases"], tables["escalations"]
    breached = [row for row in tables["sla_outcomes"] if row["breached_at"] is not None]
    decided = [row for row in escalations if row["source"] == "DECIDED"]
    sent = [row for row in tables["notifications"] if row["state"] == "SENT"]
    return Counts(
        cases_per_status=Counter(row["status"] for row in cases),
        cases_per_tier=Counter(row["tier"] for row in cases),
        breaches_per_target=Counter(row["target"] for row in breached),
        escalations=sum(row["source"] == "ESCALATED" for row in escalations),
        escalation_requests=sum(row["source"] == "REQUESTED" for row in escalations),
        decisions=Counter("accepted" if row["accepted"] else "rejected" for row in decided),
        notifications_sent_per_channel=Counter(row["channel"] for row in sent),
    )


# -- the test -------------------------------------------------------------------------------


async def test_replayed_counts_match_what_the_services_recorded(
    system: System, tmp_path: Path
) -> None:
    ledger = Ledger()
    following = asyncio.create_task(follow(ledger, system.bootstrap, system.topics))
    began = time.monotonic()
    try:
        async with grpc.aio.insecure_channel(system.case.address) as channel:
            cases = case_service_pb2_grpc.CaseServiceStub(channel)
            created = await generate(cases, CASES)
            generated = time.monotonic()
            await settle(ledger, system, created, following)
            settled = time.monotonic()
            ours = set(created.values())
            tier_of = {case: "L1" for case in ours}
            for case, to_tier in mine(ledger.escalated, ours).values():
                tier_of[case] = max(tier_of[case], to_tier)  # tiers only ever rise
            planned = {
                case: (T.Status.Name(lifecycle(i).final), tier_of[case])
                for i, case in created.items()
            }
            in_index = await listed_once_indexed(cases, planned)
            escalated_cases = {case for case, (_, tier) in in_index.items() if tier != "L1"}
            in_aggregates = await tiers(cases, escalated_cases)
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    replay_started = time.monotonic()
    replayed = await export(system, tmp_path / "tables", ours)
    messages = received(system, set(mine(ledger.requested, ours)))
    recorded = recorded_counts(in_index, ledger, messages)
    log.info(
        "%d cases generated in %.1f s, settled %.1f s later, replayed in %.1f s: %s",
        len(ours), generated - began, settled - generated,
        time.monotonic() - replay_started, recorded,
    )  # fmt: skip

    # What the services recorded agrees with itself and with the plan.
    assert in_index == planned, "ListCases disagrees with the lifecycles or the Escalated events"
    assert in_aggregates == {case: planned[case][1] for case in escalated_cases}
    sent = {key: channel for key, (_, channel) in mine(ledger.sent, ours).items()}
    assert Counter(key for key, _ in messages) == Counter(sent.keys()), (
        "not one message per Sent entry"
    )
    assert dict(messages) == sent
    assert not mine(ledger.dead, ours)
    assert recorded.notifications_sent_per_channel.keys() == {"EMAIL", "SMS"}
    breaches = mine(ledger.breaches, ours)
    assert len(set(breaches.values())) == len(breaches), "a clock breached twice"
    assert recorded.decisions["accepted"] == recorded.escalations > 0
    unanswered = sum(lifecycle(i).final == T.REGISTERED for i in created)
    assert recorded.breaches_per_target["FIRST_RESPONSE"] >= unanswered
    complaints = sum(Step.COMPLAIN in lifecycle(i).steps for i in created)
    assert recorded.escalation_requests == complaints

    # The replay's exported counts are the services' counts.
    assert exported_counts(replayed) == recorded

    # ... down to the individual case, clock and message.
    cases_rows = replayed["cases"]
    assert {row["case_id"]: (row["status"], row["tier"]) for row in cases_rows} == in_index
    assert all(row["created_seen"] for row in cases_rows)
    assert sum(row["escalations"] for row in cases_rows) == recorded.escalations
    assert {
        (row["case_id"], row["target"])
        for row in replayed["sla_outcomes"]
        if row["breached_at"] is not None
    } == set(breaches.values())
    assert {
        row["notification_id"]: row["channel"]
        for row in replayed["notifications"]
        if row["state"] == "SENT"
    } == sent
    assert {row["state"] for row in replayed["notifications"]} == {"SENT"}
