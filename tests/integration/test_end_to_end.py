"""Casedesk end to end: the five services as processes on real Kafka, PostgreSQL, SMTP and SMS.

One system serves the whole module (support/system.py): intake for a portal chat frontend, the
case service on PostgreSQL, sla under the `test-seconds` policy (chat: first response 4 s,
resolution 8 s), escalation and notify, on a private copy of every topic. Each test follows its
own citizen and case, so the tests do not see each other's messages.

1. A chat case through its whole lifecycle: events in order, one e-mail and one SMS per
   notifying event, the delivery journal, SLA clocks met and matching the promised deadlines.
2. An unanswered chat case: warnings and breaches, escalation L1 -> L2 -> L3 and no further,
   the citizen told of each escalation.
3. The frontend's trace id from its gRPC call to the Kafka records and the e-mail's journal.
"""

from __future__ import annotations

import asyncio
import collections
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support.people import Keycloak
from support.provisioning import SecureKafka
from support.system import (
    MESSAGE_ID_DOMAIN,
    SLA_POLICY,
    Casedesk,
    Record,
    read_topic,
    start_casedesk,
    until_true,
)

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_notify.domain import DeliveryChannel as Channel
from casedesk_notify.domain.identity import message_id, notification_id
from casedesk_notify.testing.sinks import AcceptedEmail, AcceptedSms

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

S = types_pb2
LABELS = {S.IN_PROGRESS: "В работе", S.WAITING_FOR_CITIZEN: "Требуется уточнение",
          S.ANSWER_READY: "Ответ готов", S.CLOSED: "Закрыта"}  # fmt: skip
NOTIFYING = ("created", "status_changed", "escalated")
SPECIALIST = "l3.sidorova"  # a development user of Keycloak's casedesk realm (tier L3)
CHANNELS = (journal_pb2.EMAIL, journal_pb2.SMS)
CaseRecords = list[Record[events_pb2.CaseEvent]]
SlaRecords = list[Record[sla_pb2.SlaEvent]]
Journal = list[Record[journal_pb2.NotificationEvent]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    keycloak: Keycloak,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Casedesk]:
    directory: Path = tmp_path_factory.mktemp("casedesk-e2e")
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, directory, keycloak=keycloak
    ) as system:
        yield system


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intake(casedesk: Casedesk) -> AsyncIterator[intake_grpc.IntakeServiceStub]:
    async with casedesk.channel("intake", caller="frontend") as channel:
        yield intake_grpc.IntakeServiceStub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cases(casedesk: Casedesk) -> AsyncIterator[case_grpc.CaseServiceStub]:
    # The desk, signed in as an L3 specialist: L3 works cases of every tier, and this test's
    # cases climb to L3 within seconds (test-seconds deadlines).
    async with casedesk.channel("case", caller="desk", person=SPECIALIST) as channel:
        yield case_grpc.CaseServiceStub(channel)


@dataclass(frozen=True)
class Citizen:
    login: str
    email: str
    phone: str

    @classmethod
    def new(cls, tag: str) -> Citizen:
        login = f"e2e.{tag}.{uuid.uuid4().hex[:6]}"
        return cls(login, f"{login}@example.ru", f"+7916{uuid.uuid4().int % 10**7:07d}")

    def submission(
        self, subject: str = "Не приходит СМС-код для входа"
    ) -> intake_pb2.SubmitCaseRequest:
        return intake_pb2.SubmitCaseRequest(
            idempotency_key=str(uuid.uuid4()),
            channel=S.PORTAL_CHAT,
            citizen=S.Citizen(
                full_name="Петрова Анна Николаевна",
                account_login=self.login,
                mobile_phone=self.phone,
                email=self.email,
            ),
            content=S.CaseContent(subject=subject, description="Код подтверждения не приходит"),
            provenance=S.Provenance(chat=S.ChatOrigin(session_id=f"chat-{uuid.uuid4().hex[:8]}")),
        )

    def mails(self, casedesk: Casedesk) -> list[AcceptedEmail]:
        return [m for m in casedesk.smtp.snapshot() if m.recipients == (self.email,)]

    def texts(self, casedesk: Casedesk) -> list[AcceptedSms]:
        return [s for s in list(casedesk.sms.accepted) if s.fields.get("to") == self.phone]


@dataclass(frozen=True)
class Specialist:
    cases: case_grpc.CaseServiceStub
    case_id: str

    async def act(self, action: int, reason: str = "") -> case_pb2.CaseView:
        # No actor in the request: the case service takes it from the person's token.
        context = case_pb2.CommandContext(idempotency_key=str(uuid.uuid4()))
        request = case_pb2.ChangeStatusRequest(
            context=context, case_id=self.case_id, action=action, reason=reason
        )
        return await self.cases.ChangeStatus(request)

    async def reply(self, body: str) -> case_pb2.CaseView:
        """A public answer to the citizen, as the desk posts it."""
        context = case_pb2.CommandContext(idempotency_key=str(uuid.uuid4()))
        request = case_pb2.AddCommentRequest(
            context=context, case_id=self.case_id, body=body, public=True
        )
        return await self.cases.AddComment(request)


def step(event: events_pb2.CaseEvent) -> tuple[str, int]:
    kind = event.WhichOneof("payload")
    return kind, event.status_changed.to_status if kind == "status_changed" else 0


def notifying(history: CaseRecords) -> list[events_pb2.CaseEvent]:
    """The events the citizen hears about: these kinds, and a specialist's public reply that no
    status change follows at once (notify merges a reply and the status change right after it,
    within its reply window, into the status change's one notice)."""
    events = [r.event for r in history]

    def merged(i: int) -> bool:
        return i + 1 < len(events) and events[i + 1].HasField("status_changed")

    return [e for i, e in enumerate(events) if e.WhichOneof("payload") in NOTIFYING
            or (e.HasField("commented") and e.commented.public
                and e.meta.actor.kind == S.Actor.SPECIALIST and not merged(i))]  # fmt: skip


def email_id(event: events_pb2.CaseEvent) -> str:
    return message_id(notification_id(event.meta.event_id, Channel.EMAIL), MESSAGE_ID_DOMAIN)


def sms_id(event: events_pb2.CaseEvent) -> str:
    return notification_id(event.meta.event_id, Channel.SMS)


async def case_history(
    casedesk: Casedesk, case_id: str, done: Callable[[CaseRecords], bool], settle_s: float = 1.0
) -> CaseRecords:
    return await read_topic(
        casedesk.kafka, casedesk.topics.case, events_pb2.CaseEvent.FromString, {case_id},
        done, timeout_s=30, settle_s=settle_s,
    )  # fmt: skip


async def delivered(
    casedesk: Casedesk, citizen: Citizen, events: list[events_pb2.CaseEvent]
) -> tuple[list[AcceptedEmail], list[AcceptedSms]]:
    """What the citizen received once every event's e-mail and SMS came, plus a second's grace."""
    await until_true(
        lambda: len(citizen.mails(casedesk)) >= len(events)
        and len(citizen.texts(casedesk)) >= len(events),
        30, f"{len(events)} e-mails and SMS to {citizen.login}",
    )  # fmt: skip
    await asyncio.sleep(1.0)  # anything sent twice arrives meanwhile
    mails, texts = citizen.mails(casedesk), citizen.texts(casedesk)
    # Exactly one of each per event, in the order of the events (one lane per case and channel).
    assert [m.message_id for m in mails] == [email_id(e) for e in events]
    assert [s.fields["client_message_id"] for s in texts] == [sms_id(e) for e in events]
    return mails, texts


async def journal_sent(
    casedesk: Casedesk, case_id: str, events: list[events_pb2.CaseEvent]
) -> Journal:
    """The case's notification.events.v1 entries about `events`; exactly one Sent per channel."""
    sources = {e.meta.event_id for e in events}
    wanted = {(source, channel) for source in sources for channel in CHANNELS}

    def sent(records: Journal) -> list[tuple[str, int]]:
        return [(r.event.source_event_id, r.event.channel) for r in records
                if r.event.WhichOneof("payload") == "sent"]  # fmt: skip

    everything = await read_topic(
        casedesk.kafka, casedesk.topics.notification,
        journal_pb2.NotificationEvent.FromString, {case_id},
        lambda records: set(sent(records)) >= wanted, timeout_s=30, settle_s=0.5,
    )  # fmt: skip
    journal = [r for r in everything if r.event.source_event_id in sources]
    assert collections.Counter(sent(journal)) == dict.fromkeys(wanted, 1)
    assert not [r for r in journal if r.event.WhichOneof("payload") in ("failed", "dead_lettered")]
    return journal


def sla_kinds(records: SlaRecords) -> list[tuple[str, str]]:
    return [(r.event.WhichOneof("payload"), sla_pb2.Target.Name(r.event.target)) for r in records]


async def sla_events(
    casedesk: Casedesk, case_id: str, done: Callable[[list[tuple[str, str]]], bool]
) -> SlaRecords:
    return await read_topic(
        casedesk.kafka, casedesk.topics.sla, sla_pb2.SlaEvent.FromString, {case_id},
        lambda records: done(sla_kinds(records)), timeout_s=30, settle_s=0.5,
    )  # fmt: skip


async def test_a_chat_case_from_submission_to_closure_keeps_the_citizen_informed(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, cases: case_grpc.CaseServiceStub
) -> None:
    citizen = Citizen.new("lifecycle")
    as_citizen = casedesk.frontend.acting_for(citizen.login)
    ack = await intake.SubmitCase(citizen.submission(), metadata=as_citizen)

    assert re.fullmatch(r"\d{4}-\d{7}", ack.number) and ack.status == S.REGISTERED
    assert ack.number in ack.text
    deadlines = ack.deadlines
    assert deadlines.policy_version == SLA_POLICY
    promised = (
        deadlines.resolution_due.ToMicroseconds() - deadlines.first_response_due.ToMicroseconds()
    )
    assert promised == 4_000_000  # chat under test-seconds: 4 s and 8 s from registration

    view = await cases.GetCase(case_pb2.GetCaseRequest(case_id=ack.case_id))
    assert view.assignee, "a chat case is assigned to a first-line specialist on registration"
    specialist = Specialist(cases, ack.case_id)
    await specialist.act(case_pb2.TAKE_IN_WORK)
    await specialist.act(case_pb2.ASK_CLARIFICATION, "Уточните, пожалуйста, оператора связи")
    answered = await intake.AddComment(
        intake_pb2.AddCommentRequest(idempotency_key=str(uuid.uuid4()), case_number=ack.number,
                                     body="Оператор МТС, код не приходит второй день"),
        metadata=as_citizen,
    )  # fmt: skip
    assert (answered.status, answered.status_label) == (S.IN_PROGRESS, "В работе")
    await specialist.reply("Код отправлен повторно, проверьте СМС")
    await specialist.act(case_pb2.ANSWER_READY_ACTION)
    closed = await specialist.act(case_pb2.CLOSE)
    assert closed.status == S.CLOSED

    history = await case_history(
        casedesk,
        ack.case_id,
        lambda rs: ("status_changed", S.CLOSED) in map(step, (r.event for r in rs)),
    )
    assert [step(r.event) for r in history] == [
        ("created", 0), ("assigned", 0),  # to the first line's roster on registration
        ("assigned", 0), ("status_changed", S.IN_PROGRESS),  # taken: assigned to the specialist
        ("status_changed", S.WAITING_FOR_CITIZEN),
        ("commented", 0), ("status_changed", S.IN_PROGRESS),  # the citizen answered
        ("commented", 0), ("status_changed", S.ANSWER_READY),  # the specialist's public reply
        ("status_changed", S.CLOSED),
    ]  # fmt: skip
    assert [r.event.meta.case_version for r in history] == list(range(1, len(history) + 1))
    assert history[0].event.created.number == ack.number
    assert history[2].event.assigned.specialist_id == SPECIALIST
    assert history[5].event.commented.public
    assert history[5].event.meta.actor.kind == S.Actor.CITIZEN
    assert history[7].event.commented.public
    assert (history[7].event.meta.actor.kind, history[7].event.meta.actor.id) == (
        S.Actor.SPECIALIST,
        SPECIALIST,
    )
    # Each status change records the specialist the token named, not what a caller claimed.
    changes = [r.event.meta.actor for r in history if r.event.HasField("status_changed")]
    assert {(a.kind, a.id) for a in changes if a.kind != S.Actor.CITIZEN} == {
        (S.Actor.SPECIALIST, SPECIALIST)
    }

    events = notifying(history)
    mails, texts = await delivered(casedesk, citizen, events)
    for event, mail, sms in zip(events, mails, texts, strict=True):
        assert mail.message["Subject"] == f"Обращение в службу поддержки - {ack.number}"
        if event.HasField("created"):
            assert f"зарегистрировано под номером {ack.number}" in mail.body("plain")
            assert "«Зарегистрирована»" in mail.body("plain")
            assert sms.fields["text"].startswith(f"Обращение {ack.number} зарегистрировано")
        elif event.HasField("commented"):  # the reply itself stays on the portal
            assert f"Специалист ответил на ваше обращение № {ack.number}" in mail.body("plain")
            assert sms.fields["text"].startswith(f"По обращению {ack.number} есть ответ")
        else:
            label = LABELS[event.status_changed.to_status]
            assert f"изменился: «{label}»" in mail.body("plain")
            assert sms.fields["text"].startswith(f"Обращение {ack.number}: статус «{label}».")
    await journal_sent(casedesk, ack.case_id, events)

    sla = await sla_events(
        casedesk, ack.case_id,
        lambda kinds: {("met", "FIRST_RESPONSE"), ("met", "RESOLUTION")} <= set(kinds),
    )  # fmt: skip
    met = {k[1]: r.event.met for k, r in zip(sla_kinds(sla), sla, strict=True) if k[0] == "met"}
    assert not met["FIRST_RESPONSE"].late and not met["RESOLUTION"].late
    assert sla_kinds(sla).count(("met", "RESOLUTION")) == 1
    assert not [k for k in sla_kinds(sla) if k[0] == "breached"]
    # The acknowledgement promised exactly the deadlines the sla service started the clocks with.
    started = {k[1]: r.event.due_at for k, r in zip(sla_kinds(sla), sla, strict=True)
               if k[0] == "started"}  # fmt: skip
    assert started == {"FIRST_RESPONSE": deadlines.first_response_due,
                       "RESOLUTION": deadlines.resolution_due}  # fmt: skip


async def test_an_unanswered_chat_case_climbs_to_l3_stops_there_and_the_citizen_hears_of_it(
    casedesk: Casedesk, intake: intake_grpc.IntakeServiceStub, cases: case_grpc.CaseServiceStub
) -> None:
    citizen = Citizen.new("silence")
    as_citizen = casedesk.frontend.acting_for(citizen.login)
    ack = await intake.SubmitCase(citizen.submission(), metadata=as_citizen)

    async def decisions(count: int) -> list[escalation_pb2.EscalationDecision]:
        records = await read_topic(
            casedesk.kafka, casedesk.topics.decisions,
            escalation_pb2.EscalationDecision.FromString, {ack.case_id},
            lambda rs: len(rs) >= count, timeout_s=40,
        )  # fmt: skip
        return [r.event for r in records]

    ladder = await decisions(2)  # first response breached at 4 s, resolution at 8 s
    assert [(d.reason, d.accepted, d.from_tier, d.to_tier) for d in ladder] == [
        (events_pb2.FIRST_RESPONSE_BREACH, True, S.L1, S.L2),
        (events_pb2.RESOLUTION_BREACH, True, S.L2, S.L3),
    ]
    await intake.RequestEscalation(
        intake_pb2.RequestEscalationRequest(
            idempotency_key=str(uuid.uuid4()), case_number=ack.number,
            reason=events_pb2.NO_ANSWER_IN_TIME, explanation="Ответа так и нет",
        ),
        metadata=as_citizen,
    )  # fmt: skip
    *_, refused = await decisions(3)
    assert refused.reason == events_pb2.NO_ANSWER_IN_TIME and not refused.accepted
    assert "never goes above L3" in refused.explanation
    view = await cases.GetCase(case_pb2.GetCaseRequest(case_id=ack.case_id))
    assert (view.tier, view.status) == (S.L3, S.REGISTERED)

    sla = await sla_events(casedesk, ack.case_id, lambda kinds: ("breached", "RESOLUTION") in kinds)
    kinds = [k for k in sla_kinds(sla) if k[0] in ("warning", "breached", "met")]
    assert kinds == [("warning", "FIRST_RESPONSE"), ("breached", "FIRST_RESPONSE"),
                     ("warning", "RESOLUTION"), ("breached", "RESOLUTION")]  # fmt: skip

    history = await case_history(
        casedesk, ack.case_id,
        lambda rs: [step(r.event)[0] for r in rs].count("escalated") >= 2
        and "escalation_requested" in [step(r.event)[0] for r in rs],
        settle_s=1.5,
    )  # fmt: skip
    escalated = [r.event.escalated for r in history if r.event.HasField("escalated")]
    assert [(e.from_tier, e.to_tier, e.cause_ref) for e in escalated] == [
        (S.L1, S.L2, ladder[0].trigger_event_id),
        (S.L2, S.L3, ladder[1].trigger_event_id),
    ]

    events = notifying(history)
    assert [e.WhichOneof("payload") for e in events] == ["created", "escalated", "escalated"]
    mails, texts = await delivered(casedesk, citizen, events)
    for mail, sms, whom in zip(mails[1:], texts[1:], ("старшему специалисту",
                               "в отдел контроля качества"), strict=True):  # fmt: skip
        assert mail.message["Subject"] == f"Обращение в службу поддержки - {ack.number}"
        assert f"Ваше обращение № {ack.number} передано {whom}." in mail.body("plain")
        assert sms.fields["text"].startswith(f"Обращение {ack.number} передано {whom}.")
    journal = await journal_sent(casedesk, ack.case_id, events)
    assert {r.event.template for r in journal if r.event.source_event_id in
            {e.meta.event_id for e in events[1:]}} == {"escalated@v2"}  # fmt: skip


async def test_one_trace_follows_the_case_from_the_frontend_call_to_the_email_send(
    casedesk: Casedesk, span_exporter: InMemorySpanExporter
) -> None:
    citizen = Citizen.new("trace")
    spans = span_exporter
    spans.clear()
    tracer = trace.get_tracer("casedesk.e2e.frontend")
    async with casedesk.channel("intake", caller="frontend") as channel:
        with tracer.start_as_current_span("portal-chat: submit case") as span:
            ack = await intake_grpc.IntakeServiceStub(channel).SubmitCase(
                citizen.submission(), metadata=casedesk.frontend.acting_for(citizen.login)
            )
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert [s.name for s in spans.get_finished_spans() if s.name.startswith("portal-chat")] == [
        "portal-chat: submit case"
    ]

    history = await case_history(
        casedesk, ack.case_id, lambda rs: any(r.event.HasField("created") for r in rs), settle_s=0
    )
    created = next(r for r in history if r.event.HasField("created"))
    assert created.trace_id() == trace_id, "intake -> case -> Kafka lost the frontend's trace"
    sla = await sla_events(
        casedesk, ack.case_id, lambda kinds: {k[1] for k in kinds if k[0] == "started"} >= {
            "FIRST_RESPONSE", "RESOLUTION"},
    )  # fmt: skip
    assert {r.trace_id() for r in sla if r.event.HasField("started")} == {trace_id}

    # The e-mail carries no trace header (nothing internal goes to the citizen); its Message-ID
    # names the notification, whose journal entries carry the trace. The case is left open, so
    # escalation notices may follow: they belong to the breaches' traces, hence the filters.
    await until_true(lambda: len(citizen.mails(casedesk)) >= 1, 30, "the acknowledgement e-mail")
    assert citizen.mails(casedesk)[0].message_id == email_id(created.event)
    journal = await journal_sent(casedesk, ack.case_id, [created.event])
    sent_email = [r for r in journal if r.event.WhichOneof("payload") == "sent"
                  and r.event.channel == journal_pb2.EMAIL]  # fmt: skip
    assert [r.event.notification_id for r in sent_email] == [
        notification_id(created.event.meta.event_id, Channel.EMAIL)
    ]
    assert {r.trace_id() for r in journal} == {trace_id}
