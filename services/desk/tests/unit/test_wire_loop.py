"""The case service's new messages as the desk reads and sends them: a case's rating, close
reason, merges, callback owed and caller checks; the history lines of AnswerRated, MergedInto,
DuplicateMerged, CallbackRecorded and a closing's reason; the commands' requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from google.protobuf.timestamp_pb2 import Timestamp

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_desk.adapters.case_service import CaseService
from casedesk_desk.application.ports import PhoneCall, QueueQuery, Rating
from casedesk_desk.wire import cases

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUPERVISOR = types_pb2.Actor(kind=types_pb2.Actor.SPECIALIST, id="super.orlova")


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def test_a_case_view_carries_the_end_of_the_case_and_the_callback_owed() -> None:
    view = pb.CaseView(
        case_id="c-1", number="2026-000001", status=types_pb2.CLOSED, channel=types_pb2.PHONE,
        registered_at=_ts(T0),
        rating=pb.AnswerRating(score=2, comment="Долго", at=_ts(T0), channel=types_pb2.SOCIAL),
        close_reason=events_pb2.DUPLICATE, merged_into="c-42", merged_duplicates=["c-7", "c-8"],
        callback_due=_ts(T0 + timedelta(minutes=30)), callback_purpose="ESCALATION", overdue=True,
        provenance=types_pb2.Provenance(phone=types_pb2.PhoneOrigin(
            caller_number="+4915112345678", from_abroad=True,
            caller_checks=[types_pb2.PROFILE_MOBILE_NUMBER, types_pb2.SMS_ONE_TIME_CODE],
        )),
    )  # fmt: skip
    got = cases.details(view)
    assert got.rating == Rating(2, "Долго", T0, "SOCIAL")
    assert (got.close_reason, got.merged_into, got.merged_duplicates) == (
        "DUPLICATE", "c-42", ["c-7", "c-8"],
    )  # fmt: skip
    assert (got.callback_due, got.callback_purpose, got.overdue) == (
        T0 + timedelta(minutes=30), "ESCALATION", True,
    )  # fmt: skip
    assert got.phone == PhoneCall(True, ["PROFILE_MOBILE_NUMBER", "SMS_ONE_TIME_CODE"])
    assert "+4915112345678" not in repr(got.phone)


def test_a_view_without_them_has_none() -> None:
    got = cases.details(pb.CaseView(case_id="c-1", registered_at=_ts(T0)))
    assert (got.rating, got.close_reason, got.callback_due, got.phone) == (None, "", None, None)


def test_a_summary_carries_the_callback_due() -> None:
    due = _ts(T0 + timedelta(minutes=30))
    summary = pb.CaseSummary(
        case_id="c-1", channel=types_pb2.PHONE, registered_at=_ts(T0), updated_at=_ts(T0),
        callback_due=due,
    )  # fmt: skip
    assert cases.row(summary).callback_due == T0 + timedelta(minutes=30)
    bare = pb.CaseSummary(case_id="c-2", registered_at=_ts(T0), updated_at=_ts(T0))
    assert cases.row(bare).callback_due is None


def _event(version: int, actor: types_pb2.Actor = SUPERVISOR, **payload: Any) -> Any:
    meta = envelope_pb2.EventMeta(case_id="c-1", case_version=version, occurred_at=_ts(T0),
                                  actor=actor)  # fmt: skip
    return events_pb2.CaseEvent(meta=meta, **payload)


def test_the_new_events_read_in_russian_with_links_to_the_other_case() -> None:
    citizen = types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="ivanov.ii")
    lines = [
        cases.history_item(e)
        for e in [
            _event(5, citizen, answer_rated=events_pb2.AnswerRated(
                score=5, comment="Спасибо", channel=types_pb2.PHONE)),
            _event(6, merged_into=events_pb2.MergedInto(
                target_case_id="c-42", target_number="2026-000042", reason="Повтор")),
            _event(7, status_changed=events_pb2.StatusChanged(
                from_status=types_pb2.IN_PROGRESS, to_status=types_pb2.CLOSED,
                close_reason=events_pb2.DUPLICATE)),
            _event(8, duplicate_merged=events_pb2.DuplicateMerged(
                duplicate_case_id="c-7", duplicate_number="2026-000007")),
            _event(9, callback_recorded=events_pb2.CallbackRecorded(reached=True, note="Сообщил")),
            _event(10, status_changed=events_pb2.StatusChanged(
                from_status=types_pb2.IN_PROGRESS, to_status=types_pb2.CLOSED,
                close_reason=events_pb2.SPAM, reason="Реклама")),
            _event(11, status_changed=events_pb2.StatusChanged(
                from_status=types_pb2.ANSWER_READY, to_status=types_pb2.CLOSED)),
        ]
    ]  # fmt: skip
    assert [(i.actor, i.what, i.body) for i in lines] == [
        ("Гражданин", "Гражданин оценил ответ: 5 из 5 (канал: Телефон)", "Спасибо"),
        ("super.orlova", "Объединено с обращением", "Повтор"),
        ("super.orlova", "Статус: «Закрыта». Объединено с другим обращением (дубликат)", ""),
        ("super.orlova", "Присоединён дубликат: обращение", ""),
        ("super.orlova", "Звонок гражданину: дозвонились", "Сообщил"),
        ("super.orlova", "Статус: «Закрыта». Закрыто без рассмотрения (спам)", "Реклама"),
        ("super.orlova", "Статус: «Закрыта»", ""),  # closed before close reasons existed
    ]
    assert (lines[1].related_case, lines[1].related_number) == ("c-42", "2026-000042")
    assert (lines[3].related_case, lines[3].related_number) == ("c-7", "2026-000007")
    assert lines[4].kind == "callback_recorded" and not lines[4].public
    assert [i.version for i in lines] == list(range(5, 12))


def test_a_watched_merge_closes_the_page_live() -> None:
    change = cases.change(_event(7, status_changed=events_pb2.StatusChanged(
        from_status=types_pb2.IN_PROGRESS, to_status=types_pb2.CLOSED,
        close_reason=events_pb2.SPAM)))  # fmt: skip
    assert change.status == "CLOSED"
    assert change.item.what == "Статус: «Закрыта». Закрыто без рассмотрения (спам)"


class _Stub:
    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, Any]] = []

    def __getattr__(self, rpc: str) -> Any:
        async def call(request: Any, **kwargs: Any) -> Any:
            self.requests.append((rpc, request, kwargs))
            if rpc == "ListCases":
                return pb.CaseList()
            return pb.CaseView(case_id="c-42", registered_at=_ts(T0))

        return call


def _service() -> tuple[CaseService, _Stub]:
    service = CaseService.__new__(CaseService)
    stub = _Stub()
    service._stub, service._timeout_s = stub, 10.0  # type: ignore[assignment]
    return service, stub


async def test_the_commands_become_the_case_services_requests_with_the_persons_token() -> None:
    service, stub = _service()
    await service.list_cases("token", QueueQuery(callback_owed=True, by_deadline=False))
    await service.find_case("token", "2026-000042", "объединение дубликатов")
    await service.record_callback("token", "c-1", True, "Сообщил ответ")
    await service.close_case("token", "c-1", "SPAM", "Реклама")
    await service.merge_cases("token", "c-1", "c-42", "Повтор")
    rpcs = [(rpc, request) for rpc, request, _ in stub.requests]
    assert rpcs[0] == ("ListCases", pb.ListCasesRequest(callback_owed=True, page_size=50))
    assert rpcs[1] == ("GetCase", pb.GetCaseRequest(number="2026-000042"))
    callback, close, merge = (request for _, request in rpcs[2:])
    assert (callback.case_id, callback.reached, callback.note) == ("c-1", True, "Сообщил ответ")
    assert (close.case_id, close.reason, close.explanation) == ("c-1", events_pb2.SPAM, "Реклама")
    assert (merge.duplicate_case_id, merge.target_case_id, merge.reason) == (
        "c-1",
        "c-42",
        "Повтор",
    )
    # Each command its own idempotency key; the actor left to the token.
    keys = {r.context.idempotency_key for r in (callback, close, merge)}
    assert len(keys) == 3 and not close.context.HasField("actor")
    assert all(("x-person-token", "token") in kw["metadata"] for _, _, kw in stub.requests)
    purpose = ("x-access-purpose", quote("объединение дубликатов", safe=""))
    assert purpose in stub.requests[1][2]["metadata"]
