"""Value objects and the case view <-> protobuf messages."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from casedesk.case.v1 import case_service_pb2
from casedesk.common.v1 import types_pb2
from casedesk_case.application.timeline import ClockState
from casedesk_case.application.views import CaseSummary, CaseView
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    AnswerRating,
    Attachment,
    CaseContent,
    Citizen,
    Comment,
    ContactChannel,
    Origin,
)
from casedesk_case.wire.enums import close_reason_to_proto, from_proto, require, to_proto
from casedesk_case.wire.timestamps import to_timestamp
from casedesk_runtime.events import from_timestamp


def actor_from_proto(message: types_pb2.Actor, field: str) -> Actor:
    return Actor(require(ActorKind, message.kind, f"{field}.kind"), message.id)


def actor_to_proto(actor: Actor) -> types_pb2.Actor:
    return types_pb2.Actor(kind=to_proto(actor.kind), id=actor.id)  # type: ignore[arg-type]


def citizen_from_proto(message: types_pb2.Citizen) -> Citizen:
    preferred = from_proto(
        ContactChannel, message.preferred_contact, "citizen.preferred_contact", required=False
    )
    return Citizen(
        full_name=message.full_name,
        snils=message.snils,
        inn=message.inn,
        account_login=message.account_login,
        mobile_phone=message.mobile_phone,
        email=message.email,
        preferred_contact=preferred or ContactChannel.UNSPECIFIED,
    )


def citizen_to_proto(citizen: Citizen) -> types_pb2.Citizen:
    return types_pb2.Citizen(
        full_name=citizen.full_name,
        snils=citizen.snils,
        inn=citizen.inn,
        account_login=citizen.account_login,
        mobile_phone=citizen.mobile_phone,
        email=citizen.email,
        preferred_contact=to_proto(citizen.preferred_contact),  # type: ignore[arg-type]
    )


def content_from_proto(message: types_pb2.CaseContent) -> CaseContent:
    occurred = message.problem_occurred_at
    return CaseContent(
        subject=message.subject,
        description=message.description,
        problem_occurred_at=from_timestamp(occurred)
        if message.HasField("problem_occurred_at")
        else None,
        service_name=message.service_name,
        service_code=message.service_code,
        steps_taken=message.steps_taken,
    )


def content_to_proto(content: CaseContent) -> types_pb2.CaseContent:
    message = types_pb2.CaseContent(
        subject=content.subject,
        description=content.description,
        service_name=content.service_name,
        service_code=content.service_code,
        steps_taken=content.steps_taken,
    )
    if content.problem_occurred_at is not None:
        message.problem_occurred_at.CopyFrom(to_timestamp(content.problem_occurred_at))
    return message


def origin_from_proto(message: types_pb2.Provenance) -> Origin:
    kind = message.WhichOneof("origin")
    if kind is None:
        return Origin()
    variant = getattr(message, kind)
    # A repeated field (PhoneOrigin.caller_checks) is kept as a plain list: the event store's
    # transcoder knows lists, not protobuf's containers.
    return Origin(
        kind,
        {
            field.name: list(value) if _repeated(field) else value
            for field, value in variant.ListFields()
        },
    )


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def origin_to_proto(origin: Origin) -> types_pb2.Provenance:
    message = types_pb2.Provenance()
    if origin.kind:
        variant = getattr(message, origin.kind)
        variant.SetInParent()
        for name, value in origin.details.items():
            if isinstance(value, list):
                getattr(variant, name).extend(value)
            else:
                setattr(variant, name, value)
    return message


def attachment_from_proto(message: types_pb2.Attachment) -> Attachment:
    return Attachment(
        attachment_id=message.attachment_id,
        file_name=message.file_name,
        media_type=message.media_type,
        size_bytes=message.size_bytes,
        sha256=message.sha256,
    )


def attachment_to_proto(attachment: Attachment) -> types_pb2.Attachment:
    return types_pb2.Attachment(
        attachment_id=attachment.attachment_id,
        file_name=attachment.file_name,
        media_type=attachment.media_type,
        size_bytes=attachment.size_bytes,
        sha256=attachment.sha256,
    )


def comment_to_proto(comment: Comment) -> case_service_pb2.CommentView:
    return case_service_pb2.CommentView(
        comment_id=comment.comment_id,
        body=comment.body,
        public=comment.public,
        author=actor_to_proto(comment.author),
        at=to_timestamp(comment.at),
        attachments=[attachment_to_proto(a) for a in comment.attachments],
    )


def case_view_to_proto(view: CaseView) -> case_service_pb2.CaseView:
    message = _case_view(view)
    if view.rating is not None:
        message.rating.CopyFrom(rating_to_proto(view.rating))
    if view.callback is not None:
        message.callback_due.CopyFrom(to_timestamp(view.callback.due))
        message.callback_purpose = view.callback.purpose.value
    return message


def rating_to_proto(rating: AnswerRating) -> case_service_pb2.AnswerRating:
    return case_service_pb2.AnswerRating(
        score=rating.score,
        comment=rating.comment,
        at=to_timestamp(rating.at),
        channel=to_proto(rating.channel),  # type: ignore[arg-type]
    )


def _case_view(view: CaseView) -> case_service_pb2.CaseView:
    return case_service_pb2.CaseView(
        case_id=view.case_id,
        number=view.number,
        version=view.version,
        status=to_proto(view.status),  # type: ignore[arg-type]
        channel=to_proto(view.channel),  # type: ignore[arg-type]
        type=to_proto(view.case_type),  # type: ignore[arg-type]
        category=to_proto(view.category),  # type: ignore[arg-type]
        queue=view.queue,
        tier=to_proto(view.tier),  # type: ignore[arg-type]
        priority=to_proto(view.priority),  # type: ignore[arg-type]
        assignee=view.assignee,
        citizen=citizen_to_proto(view.citizen),
        content=content_to_proto(view.content),
        provenance=origin_to_proto(view.origin),
        attachments=[attachment_to_proto(a) for a in view.attachments],
        comments=[comment_to_proto(c) for c in view.comments],
        repeat_of=view.repeat_of,
        repeated_by=list(view.repeated_by),
        linked_to=view.linked_to,
        registered_at=to_timestamp(view.registered_at),
        updated_at=to_timestamp(view.updated_at),
        close_reason=close_reason_to_proto(view.close_reason),  # type: ignore[arg-type]
        merged_into=view.merged_into,
        merged_duplicates=list(view.merged_duplicates),
        overdue=view.overdue,
    )


def summary_to_proto(summary: CaseSummary) -> case_service_pb2.CaseSummary:
    message = case_service_pb2.CaseSummary(
        case_id=summary.case_id,
        number=summary.number,
        status=to_proto(summary.status),  # type: ignore[arg-type]
        channel=to_proto(summary.channel),  # type: ignore[arg-type]
        queue=summary.queue,
        assignee=summary.assignee,
        tier=to_proto(summary.tier),  # type: ignore[arg-type]
        subject=summary.subject,
        registered_at=to_timestamp(summary.registered_at),
        updated_at=to_timestamp(summary.updated_at),
        version=summary.version,
    )
    if summary.category is not None:
        message.category = to_proto(summary.category)  # type: ignore[assignment]
    if summary.callback is not None:
        message.callback_due.CopyFrom(to_timestamp(summary.callback.due))
        message.callback_purpose = summary.callback.purpose.value
    clock = summary.clock
    if clock is not None and clock.state is not ClockState.NONE:
        # Only a clock that runs (or is paused) has a target and deadline worth showing.
        message.sla_state = _SLA_STATES[clock.state]
        message.sla_target = clock.target
        if clock.due_at is not None:
            message.due_at.CopyFrom(to_timestamp(clock.due_at))
        if clock.started_at is not None:
            message.clock_started_at.CopyFrom(to_timestamp(clock.started_at))
    return message


_SLA_STATES = {
    ClockState.RUNNING: case_service_pb2.SLA_RUNNING,
    ClockState.WARNING: case_service_pb2.SLA_WARNING,
    ClockState.BREACHED: case_service_pb2.SLA_BREACHED,
    ClockState.PAUSED: case_service_pb2.SLA_PAUSED,
}
