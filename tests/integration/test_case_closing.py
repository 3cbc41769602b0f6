"""The end of a case on the real system: the case service (PostgreSQL, mutual TLS, Keycloak's
people) and the SLA service under policy `test-seconds`, on private Kafka topics
(support/system.py).

- «Ответ готов» nobody reacts to is closed by the auto-closer (a 3-second period here) and the
  closing is on case.events.v1 with close_reason NO_REACTION, by the SYSTEM; a case whose citizen
  asked something after the answer stays open.
- A supervisor (super.orlova) closes a case as spam and merges a duplicate: both on the topic.
- A chat case left unanswered breaches its 4-second first response; once the case service heard
  of the breach (its case timeline), the citizen repeats it before any answer.
- A PHONE case's callback that reached the citizen is its first response for the SLA service.
- The case index's callbacks owed on PostgreSQL, and its columns added to an older index.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest
import pytest_asyncio
from support.people import Keycloak
from support.provisioning import SecureKafka
from support.system import Casedesk, Record, read_topic, start_casedesk

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application import CommandMeta
from casedesk_case.application.views import CaseFilter, CaseOrder
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    EventContext,
)
from casedesk_case.testing import CaseApplication

pytestmark = pytest.mark.integration
# The async tests share the module's system (its fixtures live on the module's event loop).
in_module_loop = pytest.mark.asyncio(loop_scope="module")

AUTO_CLOSE_AFTER_S = 3
CaseRecords = list[Record[events_pb2.CaseEvent]]
Stub = case_service_pb2_grpc.CaseServiceStub


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def casedesk(
    secure_kafka: SecureKafka,
    keycloak: Keycloak,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Casedesk]:
    closing = {
        "CASEDESK_AUTO_CLOSE_AFTER": f"{AUTO_CLOSE_AFTER_S}s",
        "CASEDESK_AUTO_CLOSE_SCAN_S": "0.5",
    }
    async with start_casedesk(
        secure_kafka, postgres_env, postgres_dsn, tmp_path_factory.mktemp("closing"),
        keycloak=keycloak, services=("case", "sla"), settings={"case": closing},
    ) as system:  # fmt: skip
        yield system


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def intake(casedesk: Casedesk) -> AsyncIterator[Stub]:
    """The case service as intake calls it: for citizens, and as itself."""
    async with casedesk.channel("case", caller="intake") as channel:
        yield Stub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ivanova(casedesk: Casedesk) -> AsyncIterator[Stub]:
    """The desk signed in as an L1 specialist."""
    async with casedesk.channel("case", caller="desk", person="l1.ivanova") as channel:
        yield Stub(channel)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def orlova(casedesk: Casedesk) -> AsyncIterator[Stub]:
    """The desk signed in as a supervisor."""
    async with casedesk.channel("case", caller="desk", person="super.orlova") as channel:
        yield Stub(channel)


def as_intake(kind: int = types_pb2.Actor.SYSTEM, actor: str = "intake") -> pb.CommandContext:
    return pb.CommandContext(
        idempotency_key=str(uuid.uuid4()),
        actor=types_pb2.Actor(kind=kind, id=actor),  # type: ignore[arg-type]
        correlation_id=f"corr-{uuid.uuid4()}",
    )


def as_person() -> pb.CommandContext:
    return pb.CommandContext(idempotency_key=str(uuid.uuid4()))


async def open_case(intake: Stub, login: str, channel: int = types_pb2.PORTAL_CHAT) -> str:
    view = await intake.CreateCase(pb.CreateCaseRequest(
        context=as_intake(), channel=channel, type=types_pb2.TECHNICAL,  # type: ignore[arg-type]
        category=types_pb2.TECHNICAL_FAULT,
        citizen=types_pb2.Citizen(account_login=login, mobile_phone="+79161234567"),
        content=types_pb2.CaseContent(subject="Не загружается заявление"),
    ))  # fmt: skip
    return view.case_id


async def answer(specialist: Stub, case_id: str) -> None:
    await specialist.ChangeStatus(
        pb.ChangeStatusRequest(context=as_person(), case_id=case_id, action=pb.TAKE_IN_WORK)
    )
    await specialist.AddComment(pb.AddCommentRequest(
        context=as_person(), case_id=case_id, body="Очистите кэш браузера", public=True,
    ))  # fmt: skip
    await specialist.ChangeStatus(pb.ChangeStatusRequest(
        context=as_person(), case_id=case_id, action=pb.ANSWER_READY_ACTION
    ))  # fmt: skip


async def case_events(
    casedesk: Casedesk, case_ids: set[str], until: Callable[[CaseRecords], bool]
) -> CaseRecords:
    return await read_topic(
        casedesk.kafka, casedesk.topics.case, events_pb2.CaseEvent.FromString, case_ids, until
    )


def closings(records: CaseRecords, case_id: str) -> list[events_pb2.CaseEvent]:
    return [
        r.event for r in records
        if r.event.meta.case_id == case_id and r.event.status_changed.to_status == types_pb2.CLOSED
    ]  # fmt: skip


def citizen() -> str:
    return f"closing.{uuid.uuid4().hex[:8]}"


@in_module_loop
async def test_an_answer_nobody_reacts_to_is_closed_automatically(
    casedesk: Casedesk, intake: Stub, ivanova: Stub
) -> None:
    quiet_login, asking_login = citizen(), citizen()
    quiet, asking = await open_case(intake, quiet_login), await open_case(intake, asking_login)
    for case_id in (quiet, asking):
        await answer(ivanova, case_id)
    await intake.AddComment(pb.AddCommentRequest(
        context=as_intake(types_pb2.Actor.CITIZEN, asking_login), case_id=asking,
        body="А если кэш уже очищен?", public=True,
    ))  # fmt: skip

    records = await case_events(casedesk, {quiet, asking}, lambda r: bool(closings(r, quiet)))

    (closed,) = closings(records, quiet)
    ready = next(
        r.event for r in records
        if r.event.meta.case_id == quiet
        and r.event.status_changed.to_status == types_pb2.ANSWER_READY
    )  # fmt: skip
    waited = closed.meta.occurred_at.ToMicroseconds() - ready.meta.occurred_at.ToMicroseconds()
    assert waited >= AUTO_CLOSE_AFTER_S * 1_000_000
    assert closed.status_changed.from_status == types_pb2.ANSWER_READY
    assert closed.status_changed.close_reason == events_pb2.NO_REACTION
    assert closed.meta.actor.kind == types_pb2.Actor.SYSTEM
    # Scanned by then too, the case with the citizen's open question waits for a reply.
    still = await intake.GetCase(pb.GetCaseRequest(case_id=asking))
    assert (still.status, closings(records, asking)) == (types_pb2.ANSWER_READY, [])


@in_module_loop
async def test_a_supervisor_closes_spam_and_merges_a_duplicate(
    casedesk: Casedesk, intake: Stub, orlova: Stub
) -> None:
    login = citizen()
    spam, duplicate, target = [await open_case(intake, login) for _ in range(3)]
    closed = await orlova.CloseCase(pb.CloseCaseRequest(
        context=as_person(), case_id=spam, reason=events_pb2.SPAM,
        explanation="рекламная рассылка",
    ))  # fmt: skip
    assert closed.close_reason == events_pb2.SPAM
    merged = await orlova.MergeCases(pb.MergeCasesRequest(
        context=as_person(), duplicate_case_id=duplicate, target_case_id=target,
        reason="то же обращение",
    ))  # fmt: skip
    assert list(merged.merged_duplicates) == [duplicate]

    def done(records: CaseRecords) -> bool:
        kinds = {(r.event.meta.case_id, r.event.WhichOneof("payload")) for r in records}
        return (target, "duplicate_merged") in kinds and bool(closings(records, duplicate))

    records = await case_events(casedesk, {spam, duplicate, target}, done)

    (spam_closing,) = closings(records, spam)
    assert spam_closing.status_changed.close_reason == events_pb2.SPAM
    assert spam_closing.status_changed.reason == "рекламная рассылка"
    assert spam_closing.meta.actor.id == "super.orlova"
    mine = [r.event for r in records if r.event.meta.case_id == duplicate]
    into, closing = mine[-2:]
    assert (into.merged_into.target_case_id, into.merged_into.target_number) == (
        target, merged.number,
    )  # fmt: skip
    assert closing.status_changed.close_reason == events_pb2.DUPLICATE
    taken = next(r.event for r in records if r.event.WhichOneof("payload") == "duplicate_merged")
    assert taken.duplicate_merged.duplicate_case_id == duplicate


@in_module_loop
async def test_an_overdue_case_is_repeated_before_any_answer(
    casedesk: Casedesk, intake: Stub
) -> None:
    login = citizen()
    original = await open_case(intake, login)
    await read_topic(
        casedesk.kafka, casedesk.topics.sla, sla_events.SlaEvent.FromString, {original},
        lambda records: any(r.event.HasField("breached") for r in records),
    )  # fmt: skip
    view = await intake.GetCase(pb.GetCaseRequest(case_id=original))
    deadline = time.monotonic() + 30
    while not view.overdue and time.monotonic() < deadline:  # the case timeline's lag
        await asyncio.sleep(0.2)
        view = await intake.GetCase(pb.GetCaseRequest(case_id=original))
    assert view.overdue and view.status == types_pb2.REGISTERED

    repeat = await intake.RepeatCase(pb.RepeatCaseRequest(
        context=as_intake(types_pb2.Actor.CITIZEN, login), case_id=original,
        reason="Прошёл срок, ответа нет", channel=types_pb2.EMAIL,
    ))  # fmt: skip

    assert (repeat.repeat_of, repeat.channel) == (original, types_pb2.EMAIL)
    records = await case_events(
        casedesk, {original, repeat.case_id},
        lambda r: any(e.event.WhichOneof("payload") == "repeated" for e in r)
        and any(e.event.meta.case_id == repeat.case_id for e in r),
    )  # fmt: skip
    created = next(r.event for r in records if r.event.meta.case_id == repeat.case_id)
    assert (created.created.repeat_of, created.created.channel) == (original, types_pb2.EMAIL)


@in_module_loop
async def test_a_callback_that_reached_the_citizen_is_the_phone_cases_first_response(
    casedesk: Casedesk, intake: Stub, ivanova: Stub
) -> None:
    case_id = await open_case(intake, citizen(), types_pb2.PHONE)
    owed = await ivanova.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert owed.callback_purpose == "FIRST_RESPONSE" and owed.HasField("callback_due")
    done = await ivanova.RecordCallback(pb.RecordCallbackRequest(
        context=as_person(), case_id=case_id, reached=True, note="Объяснил, как загрузить",
    ))  # fmt: skip
    assert not done.HasField("callback_due")

    records = await read_topic(
        casedesk.kafka, casedesk.topics.sla, sla_events.SlaEvent.FromString, {case_id},
        lambda found: any(
            r.event.HasField("met") and r.event.target == sla_events.FIRST_RESPONSE for r in found
        ),
    )  # fmt: skip
    met = next(r.event for r in records if r.event.HasField("met"))
    assert met.meta.case_id == case_id


def test_the_callbacks_owed_and_their_columns_on_postgresql(
    postgres_env: dict[str, str], postgres_dsn: str
) -> None:
    """ListCases(callback_owed) on PostgreSQL, earliest due first in keyset pages, and an index
    made before the callback columns: they are added at start and a rebuild fills them."""
    schema = f"callbacks_{uuid.uuid4().hex[:12]}"
    env = {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    system = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))
    owed = CaseFilter(callback_owed=True, order=CaseOrder.CALLBACK)

    def phone_case(app: CaseApplication) -> str:
        return app.create_case(
            channel=Channel.PHONE, case_type=CaseType.TECHNICAL, category=Category.OTHER,
            citizen=Citizen(account_login="petrov.pp"), content=CaseContent(subject="Звонок"),
            meta=system,
        ).case_id  # fmt: skip

    def listed(app: CaseApplication) -> list[str]:
        first = app.list_cases(owed, page_size=1)
        rest = app.list_cases(owed, page_size=5, page_token=first.next_page_token)
        return [c.case_id for c in (*first.cases, *rest.cases)]

    try:
        app = CaseApplication(env=env)
        try:
            first, settled, second = phone_case(app), phone_case(app), phone_case(app)
            app.record_callback(settled, reached=True, note="", meta=system)
            CaseIndexProjector(app, app.index).catch_up()
            assert listed(app) == [first, second]
        finally:
            app.close()
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            connection.execute(f"DROP INDEX {schema}.case_index_callback")
            for column in ("callback_due_us", "callback_purpose"):
                connection.execute(f"ALTER TABLE {schema}.case_index DROP COLUMN {column}")
        app = CaseApplication(env=env)
        try:
            assert app.list_cases(owed).cases == []  # nothing known until rebuilt
            CaseIndexProjector(app, app.index).rebuild()
            assert listed(app) == [first, second]
        finally:
            app.close()
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
