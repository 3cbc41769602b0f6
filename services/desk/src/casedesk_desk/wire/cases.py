"""Case service messages -> the desk's rows, case details and history lines; status -> Refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_deadlines import DeadlineError, Deadlines
from casedesk_desk.application.ports import CaseChange, CaseDetails, CitizenCard, HistoryItem
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import QueueRow
from casedesk_desk.domain.words import ESCALATION_REASONS, refusal_text, status_label

_DEADLINES = Deadlines()


def when(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def due(channel: str, status: str, registered_at: datetime) -> datetime | None:
    """The deadline the case runs against now: the first response's while nobody has answered
    (still registered), then the resolution's; none once answered or closed. Computed from the
    channel's SLA policy: the case service's list carries no deadlines."""
    if status in ("ANSWER_READY", "CLOSED", "STATUS_UNSPECIFIED"):
        return None
    try:
        deadlines = _DEADLINES.compute(channel, registered_at)
    except DeadlineError:
        return None
    if status == "REGISTERED" and deadlines.first_response_due is not None:
        return deadlines.first_response_due
    return deadlines.resolution_due


def row(summary: pb.CaseSummary) -> QueueRow:
    status = types_pb2.Status.Name(summary.status)
    channel = types_pb2.Channel.Name(summary.channel)
    registered = when(summary.registered_at)
    return QueueRow(
        case_id=summary.case_id,
        number=summary.number,
        subject=summary.subject,
        status=status,
        channel=channel,
        queue=summary.queue,
        tier=types_pb2.Tier.Name(summary.tier),
        assignee=summary.assignee,
        registered_at=registered,
        due=due(channel, status, registered),
    )


def details(view: pb.CaseView) -> CaseDetails:
    status = types_pb2.Status.Name(view.status)
    channel = types_pb2.Channel.Name(view.channel)
    registered = when(view.registered_at)
    citizen = view.citizen
    return CaseDetails(
        case_id=view.case_id,
        number=view.number,
        version=view.version,
        status=status,
        channel=channel,
        category=types_pb2.Category.Name(view.category),
        queue=view.queue,
        tier=types_pb2.Tier.Name(view.tier),
        priority=types_pb2.Priority.Name(view.priority),
        assignee=view.assignee,
        subject=view.content.subject,
        description=view.content.description,
        citizen=CitizenCard(
            full_name=citizen.full_name,
            account_login=citizen.account_login,
            snils=citizen.snils,
            inn=citizen.inn,
            mobile_phone=citizen.mobile_phone,
            email=citizen.email,
        ),
        registered_at=registered,
        due=due(channel, status, registered),
    )


def _actor(actor: types_pb2.Actor) -> str:
    if actor.kind == types_pb2.Actor.CITIZEN:
        return "Гражданин"
    if actor.kind == types_pb2.Actor.SYSTEM:
        return f"Система ({actor.id})" if actor.id else "Система"
    return actor.id or "—"


def history_item(event: events_pb2.CaseEvent) -> HistoryItem:
    item = _history_item(event)
    return replace(item, version=event.meta.case_version)


def change(event: events_pb2.CaseEvent) -> CaseChange:
    """A watched event as the case page shows it: the history line and the facts it changed."""
    item, kind = history_item(event), event.WhichOneof("payload")
    if kind == "status_changed":
        return CaseChange(item, status=types_pb2.Status.Name(event.status_changed.to_status))
    if kind == "assigned":
        return CaseChange(item, assignee=event.assigned.specialist_id)
    if kind == "escalated":
        return CaseChange(item, tier=types_pb2.Tier.Name(event.escalated.to_tier))
    return CaseChange(item)


def _history_item(event: events_pb2.CaseEvent) -> HistoryItem:
    at, actor = when(event.meta.occurred_at), _actor(event.meta.actor)
    kind = event.WhichOneof("payload")
    if kind == "created":
        return HistoryItem(at, actor, f"Обращение зарегистрировано, № {event.created.number}")
    if kind == "commented":
        c = event.commented
        what = "Ответ гражданину" if c.public else "Внутренняя заметка"
        if event.meta.actor.kind == types_pb2.Actor.CITIZEN:
            what = "Сообщение гражданина"
        return HistoryItem(at, actor, what, body=c.body, public=c.public)
    if kind == "status_changed":
        s = event.status_changed
        to = status_label(types_pb2.Status.Name(s.to_status))
        return HistoryItem(at, actor, f"Статус: «{to}»", body=s.reason)
    if kind == "assigned":
        a = event.assigned
        who = a.specialist_id or "очередь без исполнителя"
        return HistoryItem(at, actor, f"Назначено: {who} (очередь {a.queue})")
    if kind == "escalated":
        e = event.escalated
        to = types_pb2.Tier.Name(e.to_tier)
        why = ESCALATION_REASONS.get(events_pb2.EscalationReason.Name(e.reason), "")
        return HistoryItem(at, actor, f"Передано на линию {to}" + (f": {why}" if why else ""))
    if kind == "escalation_requested":
        return HistoryItem(
            at, actor, "Запрошена эскалация", body=event.escalation_requested.explanation
        )
    if kind == "attachment_added":
        return HistoryItem(at, actor, f"Вложение: {event.attachment_added.attachment.file_name}")
    if kind == "repeated":
        return HistoryItem(at, actor, "Гражданин обратился повторно")
    if kind == "linked":
        return HistoryItem(at, actor, "Связано с другим обращением")
    return HistoryItem(at, actor, event.meta.event_type or "Событие")


STATUS_ACTIONS = {
    "TAKE_IN_WORK": pb.TAKE_IN_WORK,
    "ASK_CLARIFICATION": pb.ASK_CLARIFICATION,
    "ANSWER_READY_ACTION": pb.ANSWER_READY_ACTION,
    "CLOSE": pb.CLOSE,
}


def refused(error: grpc.aio.AioRpcError) -> Refused:
    """The case service's status as the specialist reads it (its own words kept as detail)."""
    code, detail = error.code(), error.details() or ""
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return Refused(RefusalKind.FORBIDDEN, refusal_text(detail), detail)
    if code == grpc.StatusCode.NOT_FOUND:
        return Refused(RefusalKind.NOT_FOUND, "Обращение не найдено.", detail)
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED):
        return Refused(
            RefusalKind.CONFLICT,
            "Это действие сейчас недоступно для обращения в его текущем статусе. "
            "Обновите страницу.",
            detail,
        )
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return Refused(RefusalKind.INVALID, "Служба обращений не приняла данные формы.", detail)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Refused(RefusalKind.SIGNED_OUT, "Сеанс истёк, войдите снова.", detail)
    return Refused(
        RefusalKind.UNAVAILABLE, "Служба обращений недоступна, повторите через минуту.", detail
    )
