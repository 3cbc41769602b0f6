"""Case service messages -> the desk's rows, case details and history lines; status -> Refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_desk.application.ports import (
    AttachmentInfo,
    CaseChange,
    CaseDetails,
    CitizenCard,
    HistoryItem,
    PhoneCall,
    Rating,
)
from casedesk_desk.domain.citizen_search import CitizenLookup
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import Clock, QueueRow, SlaState
from casedesk_desk.domain.words import (
    ANSWER_MISSING_TEXT,
    CHANNEL_LABELS,
    ESCALATION_REASONS,
    close_reason_label,
    refusal_text,
    status_label,
)
from casedesk_runtime.grpc_errors import precondition_types

SLA_STATES = {
    pb.SLA_STATE_UNSPECIFIED: SlaState.NONE,
    pb.SLA_RUNNING: SlaState.RUNNING,
    pb.SLA_WARNING: SlaState.WARNING,
    pb.SLA_BREACHED: SlaState.BREACHED,
    pb.SLA_PAUSED: SlaState.PAUSED,
}


def when(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def maybe_when(message: object, name: str) -> datetime | None:
    """An optional Timestamp field: None when unset."""
    return when(getattr(message, name)) if message.HasField(name) else None  # type: ignore[attr-defined]


def clock(summary: pb.CaseSummary) -> Clock:
    """Where the case's SLA clock stands, as the case service has it from the SLA service."""
    return Clock(
        state=SLA_STATES.get(summary.sla_state, SlaState.NONE),
        target=summary.sla_target,
        due=maybe_when(summary, "due_at"),
        started=maybe_when(summary, "clock_started_at"),
    )


def row(summary: pb.CaseSummary) -> QueueRow:
    return QueueRow(
        case_id=summary.case_id,
        number=summary.number,
        subject=summary.subject,
        status=types_pb2.Status.Name(summary.status),
        channel=types_pb2.Channel.Name(summary.channel),
        category=types_pb2.Category.Name(summary.category),
        queue=summary.queue,
        tier=types_pb2.Tier.Name(summary.tier),
        assignee=summary.assignee,
        registered_at=when(summary.registered_at),
        updated_at=when(summary.updated_at),
        version=summary.version,
        clock=clock(summary),
        callback_due=maybe_when(summary, "callback_due"),
        # Not in CaseSummary (yet): the list then shows the purpose on the case page only.
        callback_purpose=getattr(summary, "callback_purpose", ""),
    )


def citizen_lookup(lookup: CitizenLookup) -> pb.CitizenLookup:
    """ListCasesRequest.citizen (ValueError for a kind the contract does not have)."""
    kind = pb.CitizenIdKind.Value(f"CITIZEN_ID_{lookup.kind.value}")
    return pb.CitizenLookup(kind=kind, value=lookup.value)


def attachment(message: types_pb2.Attachment) -> AttachmentInfo:
    return AttachmentInfo(
        attachment_id=message.attachment_id,
        file_name=message.file_name,
        media_type=message.media_type,
        size_bytes=message.size_bytes,
        sha256=message.sha256,
    )


def details(view: pb.CaseView) -> CaseDetails:
    citizen = view.citizen
    return CaseDetails(
        case_id=view.case_id,
        number=view.number,
        version=view.version,
        status=types_pb2.Status.Name(view.status),
        channel=types_pb2.Channel.Name(view.channel),
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
        registered_at=when(view.registered_at),
        attachments=[attachment(a) for a in view.attachments],
        rating=_rating(view),
        close_reason=_close_reason(view.close_reason),
        merged_into=view.merged_into,
        merged_duplicates=list(view.merged_duplicates),
        callback_due=maybe_when(view, "callback_due"),
        callback_purpose=view.callback_purpose,
        overdue=view.overdue,
        phone=_phone(view),
    )


def _rating(view: pb.CaseView) -> Rating | None:
    if not view.HasField("rating") or not view.rating.score:
        return None
    r = view.rating
    return Rating(r.score, r.comment, maybe_when(r, "at"), _channel(r.channel))


def _phone(view: pb.CaseView) -> PhoneCall | None:
    if view.provenance.WhichOneof("origin") != "phone":
        return None
    phone = view.provenance.phone
    checks = [types_pb2.CallerCheck.Name(c) for c in phone.caller_checks if c]
    return PhoneCall(phone.from_abroad, checks)


def _close_reason(reason: int) -> str:
    return "" if not reason else events_pb2.CloseReason.Name(reason)  # type: ignore[arg-type]


def _channel(channel: int) -> str:
    return "" if not channel else types_pb2.Channel.Name(channel)  # type: ignore[arg-type]


def _actor(actor: types_pb2.Actor) -> str:
    if actor.kind == types_pb2.Actor.CITIZEN:
        return "Гражданин"
    if actor.kind == types_pb2.Actor.SYSTEM:
        return f"Система ({actor.id})" if actor.id else "Система"
    return actor.id or "—"


def history_item(event: events_pb2.CaseEvent) -> HistoryItem:
    item = _history_item(event)
    kind = event.WhichOneof("payload") or ""
    return replace(item, version=event.meta.case_version, kind=kind)


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
        files = tuple(attachment(a) for a in c.attachments)
        return HistoryItem(
            at, actor, what, body=c.body, public=c.public, files=files, case_id=event.meta.case_id
        )
    if kind == "status_changed":
        s = event.status_changed
        to = status_label(types_pb2.Status.Name(s.to_status))
        why = close_reason_label(_close_reason(s.close_reason))
        return HistoryItem(
            at, actor, f"Статус: «{to}»" + (f". {why}" if why else ""), body=s.reason
        )
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
    return _loop_item(event, kind, at, actor)


def _loop_item(
    event: events_pb2.CaseEvent, kind: str | None, at: datetime, actor: str
) -> HistoryItem:
    """The end of a case and the loop back to the citizen: rating, merge, callback."""
    if kind == "answer_rated":
        r = event.answer_rated
        how = CHANNEL_LABELS.get(_channel(r.channel), "")
        what = f"Гражданин оценил ответ: {r.score} из 5" + (f" (канал: {how})" if how else "")
        return HistoryItem(at, actor, what, body=r.comment)
    if kind == "merged_into":
        m = event.merged_into
        return HistoryItem(
            at, actor, "Объединено с обращением", body=m.reason,
            related_case=m.target_case_id, related_number=m.target_number,
        )  # fmt: skip
    if kind == "duplicate_merged":
        d = event.duplicate_merged
        return HistoryItem(
            at, actor, "Присоединён дубликат: обращение",
            related_case=d.duplicate_case_id, related_number=d.duplicate_number,
        )  # fmt: skip
    if kind == "callback_recorded":
        c = event.callback_recorded
        what = (
            "Звонок гражданину: дозвонились" if c.reached else "Звонок гражданину: не дозвонились"
        )
        # The note is the specialist's record of the call, not a message to the citizen.
        return HistoryItem(at, actor, what, body=c.note, public=False)
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
    if code == grpc.StatusCode.FAILED_PRECONDITION and "ANSWER_MISSING" in precondition_types(
        error
    ):
        # «Ответ готов» before a public reply to the latest question: usually the case was
        # escalated after his reply. The status is fine, so "refresh the page" would mislead.
        return Refused(RefusalKind.CONFLICT, ANSWER_MISSING_TEXT, detail)
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
