"""The case service's messages (casedesk.case.v1) <-> intake's domain values."""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_intake.domain.cases import (
    Actor,
    AnswerConfirmation,
    AnswerRating,
    Case,
    CaseComment,
    CaseEventSeen,
    CasePage,
    CaseSummary,
    Command,
    EscalationPlea,
    NewCase,
    NewComment,
    Repetition,
)
from casedesk_intake.domain.watching import citizen_sees
from casedesk_intake.wire.enums import from_proto, to_proto
from casedesk_intake.wire.values import (
    attachment_messages,
    citizen,
    citizen_message,
    content_message,
    optional_instant,
    provenance_message,
    stored_attachments,
)
from casedesk_vocabulary.enums import ActorKind, Category, Channel, Status

_UNANSWERED_CLOSINGS = frozenset({events_pb2.SPAM, events_pb2.DUPLICATE})


def command_context(command: Command) -> case_pb2.CommandContext:
    # The derived key also correlates everything this frontend call causes downstream. An
    # operator acting for the citizen (his token verified here) is recorded by the case service
    # on every event of the command, beside the citizen as the actor.
    key = command.key
    return case_pb2.CommandContext(
        idempotency_key=key,
        actor=actor_message(command.actor),
        correlation_id=key,
        causation_id=key,
        identified_by=command.identified_by,
    )


def actor_message(actor: Actor) -> types_pb2.Actor:
    return types_pb2.Actor(kind=to_proto(actor.kind), id=actor.id)  # type: ignore[arg-type]


def create_case_request(new: NewCase) -> case_pb2.CreateCaseRequest:
    return case_pb2.CreateCaseRequest(
        context=command_context(new.command),
        channel=to_proto(new.channel),  # type: ignore[arg-type]
        type=to_proto(new.case_type),  # type: ignore[arg-type]
        category=to_proto(new.category),  # type: ignore[arg-type]
        queue=new.queue,
        citizen=citizen_message(new.citizen),
        content=content_message(new.content),
        provenance=provenance_message(new.provenance),
        attachments=attachment_messages(new.attachments),
        linked_to=new.linked_to,
    )


def add_comment_request(comment: NewComment) -> case_pb2.AddCommentRequest:
    return case_pb2.AddCommentRequest(
        context=command_context(comment.command),
        case_id=comment.case_id,
        body=comment.body,
        public=comment.public,
        attachments=attachment_messages(comment.attachments),
    )


def repeat_case_request(repetition: Repetition) -> case_pb2.RepeatCaseRequest:
    request = case_pb2.RepeatCaseRequest(
        context=command_context(repetition.command),
        case_id=repetition.case_id,
        reason=repetition.reason,
        channel=to_proto(repetition.channel),  # type: ignore[arg-type]
        attachments=attachment_messages(repetition.attachments),
    )
    if repetition.provenance is not None:
        request.provenance.CopyFrom(provenance_message(repetition.provenance))
    return request


def confirm_answer_request(confirmation: AnswerConfirmation) -> case_pb2.ConfirmAnswerRequest:
    return case_pb2.ConfirmAnswerRequest(
        context=command_context(confirmation.command), case_id=confirmation.case_id
    )


def rate_answer_request(rating: AnswerRating) -> case_pb2.RateAnswerRequest:
    return case_pb2.RateAnswerRequest(
        context=command_context(rating.command),
        case_id=rating.case_id,
        score=rating.score,
        comment=rating.comment,
        channel=to_proto(rating.channel),  # type: ignore[arg-type]
    )


def event_seen(event: events_pb2.CaseEvent) -> CaseEventSeen:
    kind = event.WhichOneof("payload") or ""
    public = kind == "commented" and event.commented.public
    return CaseEventSeen(event.meta.case_version, citizen_sees(kind, public))


def request_escalation_request(plea: EscalationPlea) -> case_pb2.RequestEscalationRequest:
    return case_pb2.RequestEscalationRequest(
        context=command_context(plea.command),
        case_id=plea.case_id,
        reason=to_proto(plea.reason),  # type: ignore[arg-type]
        explanation=plea.explanation,
    )


def case(view: case_pb2.CaseView) -> Case:
    return Case(
        case_id=view.case_id,
        number=view.number,
        status=from_proto(Status, view.status),
        channel=from_proto(Channel, view.channel),
        citizen=citizen(view.citizen),
        subject=view.content.subject,
        comments=tuple(
            CaseComment(
                body=comment.body,
                public=comment.public,
                author_kind=from_proto(ActorKind, comment.author.kind),
                at=optional_instant(comment, "at"),
                attachments=stored_attachments(comment.attachments),
            )
            for comment in view.comments
        ),
        registered_at=optional_instant(view, "registered_at"),
        updated_at=optional_instant(view, "updated_at"),
        attachments=stored_attachments(view.attachments),
        category=from_proto(Category, view.category),
        version=view.version,
        rating=view.rating.score if view.HasField("rating") else 0,
        overdue=view.overdue,
        closed_unanswered=view.close_reason in _UNANSWERED_CLOSINGS,
    )


def case_page(page: case_pb2.CaseList) -> CasePage:
    return CasePage(
        cases=tuple(
            CaseSummary(
                case_id=summary.case_id,
                number=summary.number,
                status=from_proto(Status, summary.status),
                channel=from_proto(Channel, summary.channel),
                subject=summary.subject,
                registered_at=optional_instant(summary, "registered_at"),
                updated_at=optional_instant(summary, "updated_at"),
                overdue=summary.sla_state == case_pb2.SLA_BREACHED,
            )
            for summary in page.cases
        ),
        next_page_token=page.next_page_token,
    )
