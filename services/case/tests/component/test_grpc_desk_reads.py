"""The desk's reads through gRPC: the tier rule on every read, ListCases' queue criteria and
deadline order with the SLA clock on the wire, the live queue (WatchQueue), a case's timeline
and the supervisors' overview."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.application.timeline import ClockState, NotificationFact, SlaFact
from casedesk_case.settings import CaseSettings
from casedesk_case.testing.case_timeline import FixedCaseTimeline, FixedClocks
from casedesk_runtime.grpc_errors import field_violations
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider
from casedesk_vocabulary.moscow import in_moscow

from .conftest import RunningService, people_of, running_case_service
from .test_grpc_people import as_person, new_case, refused, token_of

DUE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
async def desk_service(
    tmp_path: Path, idp: FakeIdentityProvider
) -> AsyncIterator[tuple[RunningService, FixedCaseTimeline]]:
    """The service with a case timeline, at most two queue streams."""
    timeline = FixedCaseTimeline()
    settings = CaseSettings(grpc_port=0, grpc_insecure_dev=True)
    async with running_case_service(
        tmp_path, settings, people_of(idp), case_timeline=timeline, max_queue_streams=2
    ) as running:
        yield running, timeline


def supervisor(idp: FakeIdentityProvider) -> list[tuple[str, str]]:
    return as_person(idp.mint_specialist("super.orlova", tier="L3",
                                         roles=["supervisor", "specialist"]))  # fmt: skip


async def test_an_l1_specialist_opens_no_case_above_l1_and_lists_only_l1(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    l1_case, l3_case = await new_case(service), await new_case(service, types_pb2.L3)
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    for call in (
        service.stub.GetCase(pb.GetCaseRequest(case_id=l3_case), metadata=ivanova),
        service.stub.GetHistory(pb.GetHistoryRequest(case_id=l3_case), metadata=ivanova),
        service.stub.WatchCase(pb.WatchCaseRequest(case_id=l3_case), metadata=ivanova).read(),
    ):
        error = await refused(call)
        assert (error.code(), error.details()) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "l1.ivanova (L1) may not open an L3 case",
        )
    service.projector.catch_up()
    listed = await service.stub.ListCases(pb.ListCasesRequest(), metadata=ivanova)
    assert [c.case_id for c in listed.cases] == [l1_case]
    error = await refused(
        service.stub.ListCases(pb.ListCasesRequest(tier=types_pb2.L3), metadata=ivanova)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    sidorova = as_person(token_of(idp, "l3.sidorova"))
    assert (await service.stub.GetCase(pb.GetCaseRequest(case_id=l3_case), metadata=sidorova)).tier


async def test_a_queue_page_by_deadline_carries_each_cases_clock(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    later, sooner, none = [await new_case(service) for _ in range(3)]
    clocks = FixedClocks(service.app)
    clocks.set(later, ClockState.RUNNING, DUE + timedelta(hours=1), target="FIRST_RESPONSE")
    clocks.set(sooner, ClockState.BREACHED, DUE, started_at=DUE - timedelta(hours=24))
    service.projector.catch_up()
    request = pb.ListCasesRequest(
        tier=types_pb2.L1, open_only=True, unassigned=True, category=types_pb2.TECHNICAL_FAULT,
        order=pb.CASE_ORDER_DEADLINE, page_size=2,
    )  # fmt: skip
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    first = await service.stub.ListCases(request, metadata=ivanova)
    request.page_token = first.next_page_token
    second = await service.stub.ListCases(request, metadata=ivanova)
    assert [c.case_id for c in [*first.cases, *second.cases]] == [sooner, later, none]
    assert second.next_page_token == ""
    breached = first.cases[0]
    assert (breached.sla_state, breached.sla_target, breached.category, breached.version) == (
        pb.SLA_BREACHED, "RESOLUTION", types_pb2.TECHNICAL_FAULT, 2,
    )  # fmt: skip
    assert breached.due_at.ToDatetime(UTC) == DUE
    assert breached.clock_started_at.ToDatetime(UTC) == DUE - timedelta(hours=24)
    quiet = second.cases[0]
    assert (quiet.sla_state, quiet.sla_target, quiet.HasField("due_at")) == (0, "", False)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListCasesRequest(order=7), "order"),  # type: ignore[arg-type]
        (pb.ListCasesRequest(tier=9), "tier"),  # type: ignore[arg-type]
        (pb.ListCasesRequest(category=9), "category"),  # type: ignore[arg-type]
        (pb.ListCasesRequest(unassigned=True, assignee="l1.ivanova"), "unassigned"),
        (pb.ListCasesRequest(order=pb.CASE_ORDER_DEADLINE, page_token="WzEsIDJd"), "page_token"),
    ],
)
async def test_bad_list_criteria_name_their_field(
    service: RunningService, request_: pb.ListCasesRequest, field: str
) -> None:
    error = await refused(service.stub.ListCases(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == [field]


async def test_the_live_queue_sends_each_change_of_the_cases_a_person_reads(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    start = str(service.app.recorder.max_notification_id() or 0)
    stream = service.stub.WatchQueue(pb.WatchQueueRequest(after_position=start), metadata=ivanova)
    case_id = await new_case(service)
    up = await new_case(service, types_pb2.L2)
    received: list[pb.QueueChange] = []
    while not received or received[-1].event_type != "Escalated":
        received.append(await asyncio.wait_for(stream.read(), 10))
    stream.cancel()
    changes = [(c.summary.case_id, c.event_type) for c in received]
    assert changes[:2] == [(case_id, "Created"), (case_id, "Assigned")]
    # The escalated case reached her while it was L1 (if the stream read it before the
    # escalation was stored); the escalation itself comes without the case's content.
    assert changes[2:] in (
        [(up, "Escalated")],
        [(up, "Created"), (up, "Escalated")],
        [(up, "Created"), (up, "Assigned"), (up, "Escalated")],
    )
    assert received[0].summary.subject == "Раздел недоступен"
    assert (received[-1].summary.tier, received[-1].summary.subject) == (types_pb2.L2, "")
    # A desk that reconnects after the first change gets exactly what followed it.
    resumed = service.stub.WatchQueue(
        pb.WatchQueueRequest(after_position=received[0].position), metadata=ivanova
    )
    assert (await asyncio.wait_for(resumed.read(), 10)).position == received[1].position
    resumed.cancel()
    auditor = as_person(token_of(idp, "audit.kuznetsov"))
    page = await service.stub.ListAccessRecords(pb.ListAccessRecordsRequest(), metadata=auditor)
    watched = [r.case_id for r in page.records if r.rpc == "WatchQueue"]
    assert watched[:2] == [case_id] * 2
    # Each summary of hers sent (the escalation's was not hers: not journaled); then the resumed.
    assert watched[2 : len(changes) - 1] == [up] * (len(changes) - 3)


async def test_a_queue_stream_is_a_persons_and_ends_with_the_token(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    async def first_error(metadata: Any = None, after: str = "") -> grpc.aio.AioRpcError:
        request = pb.WatchQueueRequest(after_position=after)
        return await refused(service.stub.WatchQueue(request, metadata=metadata).read())

    assert (await first_error()).code() == grpc.StatusCode.UNAUTHENTICATED
    guest = as_person(idp.mint(username="guest", roles=["offline_access"]))
    assert (await first_error(guest)).code() == grpc.StatusCode.PERMISSION_DENIED
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    bad = await first_error(ivanova, "-1")
    assert field_violations(bad) == [("after_position", "is not a position a QueueChange carried")]
    ahead = await first_error(ivanova, "999999")
    assert [f for f, _ in field_violations(ahead)] == ["after_position"]
    expiring = as_person(token_of(idp, "l1.ivanova", expires_in=-1))  # within the leeway
    error = await first_error(expiring)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "x-person-token expired: watch again with a fresh one",
    )


async def test_queue_streams_beyond_the_bound_are_resource_exhausted(
    desk_service: tuple[RunningService, FixedCaseTimeline], idp: FakeIdentityProvider
) -> None:
    service, _ = desk_service
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    start = str(service.app.recorder.max_notification_id() or 0)
    streams = [
        service.stub.WatchQueue(pb.WatchQueueRequest(after_position=start), metadata=ivanova)
        for _ in range(2)
    ]
    await new_case(service)
    for stream in streams:  # both are served
        assert (await asyncio.wait_for(stream.read(), 10)).event_type == "Created"
    third = service.stub.WatchQueue(pb.WatchQueueRequest(), metadata=ivanova)
    error = await refused(third.read())
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "already serves 2 queue streams" in (error.details() or "")
    streams[0].cancel()
    for _ in range(50):  # the server notices the cancellation
        retry = service.stub.WatchQueue(pb.WatchQueueRequest(after_position=start),
                                        metadata=ivanova)  # fmt: skip
        try:
            assert (await asyncio.wait_for(retry.read(), 10)).event_type == "Created"
            break
        except grpc.aio.AioRpcError as refused_again:
            assert refused_again.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("a closed stream never gave its place back")


async def test_a_cases_timeline_is_read_as_its_history(
    desk_service: tuple[RunningService, FixedCaseTimeline], idp: FakeIdentityProvider
) -> None:
    service, timeline = desk_service
    case_id, l3_case = await new_case(service), await new_case(service, types_pb2.L3)
    timeline.sla.append(SlaFact("e-1", case_id, DUE, "FIRST_RESPONSE", "met", DUE, late=True))
    timeline.notifications.append(
        NotificationFact(
            "n-1", case_id, DUE, "EMAIL", "failed", "i***@example.ru", "status", "mailbox full"
        )
    )
    ivanova = as_person(token_of(idp, "l1.ivanova"))
    read = await service.stub.GetCaseTimeline(
        pb.GetCaseTimelineRequest(case_id=case_id), metadata=ivanova
    )
    assert [(f.event_id, f.kind, f.late, f.due_at.ToDatetime(UTC)) for f in read.sla] == [
        ("e-1", "met", True, DUE)
    ]
    assert [(n.channel, n.kind, n.recipient_masked, n.error) for n in read.notifications] == [
        ("EMAIL", "failed", "i***@example.ru", "mailbox full")
    ]
    error = await refused(service.stub.GetCaseTimeline(
        pb.GetCaseTimelineRequest(case_id=l3_case), metadata=ivanova
    ))  # fmt: skip
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = await refused(service.stub.GetCaseTimeline(pb.GetCaseTimelineRequest(case_id="x")))
    assert field_violations(error) == [("case_id", "is not a case id (a UUID)")]


async def test_without_a_case_timeline_its_reads_are_unimplemented(
    service: RunningService, idp: FakeIdentityProvider
) -> None:
    case_id = await new_case(service)
    for call in (
        service.stub.GetCaseTimeline(
            pb.GetCaseTimelineRequest(case_id=case_id), metadata=as_person(token_of(idp, "l1.iv"))
        ),
        service.stub.GetDeskOverview(pb.GetDeskOverviewRequest(), metadata=supervisor(idp)),
    ):
        error = await refused(call)
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "needs the case timeline" in (error.details() or "")


async def test_the_overview_is_the_supervisors(
    desk_service: tuple[RunningService, FixedCaseTimeline], idp: FakeIdentityProvider
) -> None:
    service, timeline = desk_service
    case_id = await new_case(service)
    FixedClocks(service.app, timeline).set(case_id, ClockState.BREACHED, DUE)
    timeline.sla.append(SlaFact("b-1", case_id, datetime.now(UTC), "RESOLUTION", "breached", DUE))
    service.projector.catch_up()
    overview = await service.stub.GetDeskOverview(
        pb.GetDeskOverviewRequest(days=3), metadata=supervisor(idp)
    )
    technical = next(q for q in overview.queues if q.queue == "l1-technical")
    assert (technical.tier, technical.open, technical.unassigned, technical.breached) == (
        types_pb2.L1, 1, 1, 1,
    )  # fmt: skip
    assert (overview.specialists[0].specialist_id, overview.specialists[0].open) == ("l1-004", 1)
    assert overview.breaches_today == 1
    assert len(overview.compliance) == 3
    assert overview.compliance[-1].date == in_moscow(datetime.now(UTC)).date().isoformat()
    sidorova = as_person(token_of(idp, "l3.sidorova"))
    error = await refused(
        service.stub.GetDeskOverview(pb.GetDeskOverviewRequest(), metadata=sidorova)
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "l3.sidorova (L3) may not see the desk overview: it needs the role supervisor",
    )
    error = await refused(
        service.stub.GetDeskOverview(pb.GetDeskOverviewRequest(days=91), metadata=supervisor(idp))
    )
    assert field_violations(error) == [("days", "must be 1 to 90 (0 or unset: 14)")]


async def test_the_desks_reads_are_the_desks_and_operators_only(
    secure_service: RunningService, idp: FakeIdentityProvider
) -> None:
    orlova = supervisor(idp)
    for caller, allowed in (("intake", False), ("escalation", False), ("desk", True),
                            ("operator", True)):  # fmt: skip
        stub = secure_service.stub_as(caller)
        for call in (
            stub.WatchQueue(pb.WatchQueueRequest(after_position="x"), metadata=orlova).read(),
            stub.GetCaseTimeline(pb.GetCaseTimelineRequest(case_id="x"), metadata=orlova),
            stub.GetDeskOverview(pb.GetDeskOverviewRequest(days=-1), metadata=orlova),
        ):
            error = await refused(call)
            # Past the access table a call is judged on what it asks (each asks badly here).
            denied = error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert denied is not allowed, (caller, error.details())
