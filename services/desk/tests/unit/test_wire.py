"""The case service's messages as the desk reads them: a summary's SLA clock, the timeline's facts
in Russian, the overview; and the ListCases request each query makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_desk.adapters.case_service import CaseService
from casedesk_desk.application.ports import QueueQuery
from casedesk_desk.domain.errors import RefusalKind
from casedesk_desk.domain.queue import NO_CLOCK, Clock, SlaState
from casedesk_desk.wire import cases, timeline

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def test_a_summary_carries_the_sla_services_clock_or_none() -> None:
    summary = pb.CaseSummary(
        case_id="c-1", status=types_pb2.IN_PROGRESS, channel=types_pb2.EMAIL,
        category=types_pb2.OTHER, tier=types_pb2.L2, registered_at=_ts(T0), updated_at=_ts(T0),
        version=4, sla_state=pb.SLA_WARNING, sla_target="RESOLUTION",
        due_at=_ts(T0 + timedelta(hours=8)), clock_started_at=_ts(T0),
    )  # fmt: skip
    row = cases.row(summary)
    assert (row.status, row.channel, row.category, row.tier, row.version) == (
        "IN_PROGRESS", "EMAIL", "OTHER", "L2", 4,
    )  # fmt: skip
    assert row.clock == Clock(SlaState.WARNING, "RESOLUTION", T0 + timedelta(hours=8), T0)
    bare = cases.row(pb.CaseSummary(case_id="c-2", registered_at=_ts(T0), updated_at=_ts(T0)))
    assert bare.clock == Clock(SlaState.NONE, "", None, None)


def _fact(
    kind: str, hours: int, due_h: int | None = None, target: str = "RESOLUTION", late: bool = False
) -> Any:
    fact = pb.SlaFact(kind=kind, target=target, at=_ts(T0 + timedelta(hours=hours)), late=late)
    if due_h is not None:
        fact.due_at.CopyFrom(_ts(T0 + timedelta(hours=due_h)))
    return fact


def test_the_timeline_reads_in_russian_by_time_with_the_recipient_masked_as_notify_did() -> None:
    message = pb.CaseTimeline(
        sla=[
            _fact("started", 0, 4, "FIRST_RESPONSE"),
            _fact("breached", 4, target="FIRST_RESPONSE"),
            _fact("met", 5, target="FIRST_RESPONSE", late=True),
            _fact("started", 5, 29),
            _fact("paused", 6),
        ],
        notifications=[
            pb.NotificationFact(at=_ts(T0 + timedelta(minutes=1)), channel="SMS", kind="sent",
                                recipient_masked="+7***67"),
            pb.NotificationFact(at=_ts(T0 + timedelta(hours=6)), channel="EMAIL", kind="failed",
                                recipient_masked="i***@mail.ru", error="mailbox full"),
        ],
    )  # fmt: skip
    got = timeline.timeline(message)
    assert [(i.actor, i.what, i.body) for i in got.items] == [
        ("Служба сроков", "Срок первого ответа: отсчёт начат, до 02.03.2026 16:00 (мск)", ""),
        ("Служба уведомлений", "Уведомление отправлено: SMS на +7***67", ""),
        ("Служба сроков", "Срок первого ответа нарушен", ""),
        ("Служба сроков", "Срок первого ответа выполнен с опозданием", ""),
        ("Служба сроков", "Срок решения: отсчёт начат, до 03.03.2026 17:00 (мск)", ""),
        ("Служба сроков", "Срок решения: приостановлен, ждём ответа гражданина", ""),
        ("Служба уведомлений", "Уведомление не доставлено: письмо на i***@mail.ru", "mailbox full"),
    ]
    # The paused resolution clock keeps the deadline its start named.
    assert got.clock == Clock(
        SlaState.PAUSED, "RESOLUTION", T0 + timedelta(hours=29), T0 + timedelta(hours=5)
    )


def test_notifys_own_decisions_read_as_what_they_are_not_as_failures() -> None:
    said = {
        "held": "Уведомление отложено (лимит сообщений получателю): SMS на +7***67",
        "superseded": "Уведомление заменено более поздним о том же обращении: SMS на +7***67",
        "suppressed": "Уведомление не отправлено по правилам рассылки: SMS на +7***67",
        "merged": "Уведомление объединено со следующим о смене статуса: SMS на +7***67",
    }
    message = pb.CaseTimeline(
        notifications=[
            pb.NotificationFact(at=_ts(T0 + timedelta(minutes=n)), channel="SMS", kind=kind,
                                recipient_masked="+7***67", error=f"{kind}: why")
            for n, kind in enumerate(said)
        ],
    )  # fmt: skip
    got = timeline.timeline(message)
    assert [(i.what, i.body) for i in got.items] == [(said[k], f"{k}: why") for k in said]


def test_the_current_clock_is_none_once_the_last_target_is_met_or_nothing_was_said() -> None:
    assert timeline.current_clock([]) == NO_CLOCK
    met = pb.SlaFact(kind="met", target="RESOLUTION", at=_ts(T0), late=False)
    assert timeline.current_clock([_fact("started", 0, 8), met]) == NO_CLOCK
    on_time = timeline.timeline(pb.CaseTimeline(sla=[met])).items[0].what
    assert on_time == "Срок решения соблюдён"


def test_the_overview_keeps_every_figure() -> None:
    message = pb.DeskOverview(
        as_of=_ts(T0),
        queues=[pb.QueueLoad(tier=types_pb2.L1, queue="general", open=5, unassigned=2, breached=1)],
        specialists=[pb.SpecialistLoad(specialist_id="l1-001", open=3, waiting_for_citizen=1)],
        breaches_today=2,
        compliance=[pb.DayCompliance(date="2026-03-01", met_on_time=9, met_late=1, breached=2)],
    )
    got = timeline.overview(message)
    assert got.queues[0].tier == "L1" and got.queues[0].unassigned == 2
    assert got.specialists[0].waiting_for_citizen == 1 and got.breaches_today == 2
    assert got.days[0].share == 0.9 and got.days[0].day.isoformat() == "2026-03-01"


class _Stub:
    def __init__(self) -> None:
        self.requests: list[tuple[Any, Any]] = []

    async def ListCases(self, request: Any, **kwargs: Any) -> pb.CaseList:
        self.requests.append((request, kwargs))
        return pb.CaseList(next_page_token="n")


async def test_a_query_becomes_the_list_cases_request_ordered_by_deadline() -> None:
    service = CaseService.__new__(CaseService)
    stub = _Stub()
    service._stub, service._timeout_s = stub, 10.0  # type: ignore[assignment]
    query = QueueQuery(channel="EMAIL", category="OTHER", tier="L2", unassigned=True,
                       open_only=True, page_token="p")  # fmt: skip
    page = await service.list_cases("token", query)
    assert page.next_page_token == "n"
    request, kwargs = stub.requests[0]
    assert request == pb.ListCasesRequest(
        channel=types_pb2.EMAIL, category=types_pb2.OTHER, tier=types_pb2.L2, unassigned=True,
        open_only=True, order=pb.CASE_ORDER_DEADLINE, page_size=50, page_token="p",
    )  # fmt: skip
    assert ("x-person-token", "token") in kwargs["metadata"]


def test_the_current_clock_is_the_open_target_due_first_and_keeps_a_warning_over_a_pause() -> None:
    both = [_fact("started", 0, 4, "FIRST_RESPONSE"), _fact("started", 0, 29)]
    first = timeline.current_clock(both)
    assert (first.target, first.state, first.due) == (
        "FIRST_RESPONSE", SlaState.RUNNING, T0 + timedelta(hours=4),
    )  # fmt: skip
    answered = [*both, _fact("met", 2, target="FIRST_RESPONSE")]
    assert timeline.current_clock(answered).target == "RESOLUTION"
    # The same instant: the SLA service's order (start, alarm, pause), whatever the listing's.
    paused = [*answered, _fact("paused", 20), _fact("warning", 20, 29)]
    assert timeline.current_clock(paused).state is SlaState.PAUSED
    resumed = timeline.current_clock([*paused, _fact("resumed", 30, 39)])
    assert (resumed.state, resumed.due, resumed.started) == (
        SlaState.WARNING, T0 + timedelta(hours=39), T0,
    )  # fmt: skip


def _precondition_error(details: str, *kinds: str) -> grpc.aio.AioRpcError:
    """FAILED_PRECONDITION as the case service sends it, with PreconditionFailure violations."""
    status = status_pb2.Status(code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message=details)
    if kinds:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(type=k, subject="case/c-1")
                for k in kinds
            ]
        )
        status.details.add().Pack(failure)
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(
        grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(), trailing, details=details
    )


def test_answer_ready_before_a_reply_says_to_reply_first_not_to_refresh() -> None:
    missing = cases.refused(
        _precondition_error("there is no answer to the escalation to L2 yet", "ANSWER_MISSING")
    )
    assert missing.kind is RefusalKind.CONFLICT
    assert missing.message.startswith("«Ответ готов» можно отметить только после ответа")
    assert "Обновите страницу" not in missing.message
    assert missing.detail == "there is no answer to the escalation to L2 yet"
    other = cases.refused(_precondition_error("IN_PROGRESS cannot become CLOSED"))
    assert other.kind is RefusalKind.CONFLICT and "Обновите страницу" in other.message
