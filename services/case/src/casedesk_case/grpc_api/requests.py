"""Turning requests into application arguments, checking everything the domain cannot."""

from __future__ import annotations

import re
from typing import Any

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_case.application import CommandMeta
from casedesk_case.application.views import AccessFilter
from casedesk_case.domain.closing import (
    MAX_RATING_COMMENT,
    MAX_STAFF_TEXT,
    SCORES,
)
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    Attachment,
    CaseType,
    Category,
    Channel,
    CloseReason,
    EscalationReason,
    EventContext,
    Priority,
    Status,
    Tier,
)
from casedesk_case.grpc_api.checks import MAX_KEY_LENGTH, RequestCheck
from casedesk_case.grpc_api.people import Acting
from casedesk_case.wire.enums import close_reason_from_proto, from_proto, require
from casedesk_case.wire.values import (
    actor_from_proto,
    attachment_from_proto,
    citizen_from_proto,
    content_from_proto,
    origin_from_proto,
)

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
MAX_USERNAME_LENGTH = 255  # Keycloak's limit for a username

# What each lifecycle action asks for.
ACTION_TARGETS = {
    pb.TAKE_IN_WORK: Status.IN_PROGRESS,
    pb.ASK_CLARIFICATION: Status.WAITING_FOR_CITIZEN,
    pb.ANSWER_READY_ACTION: Status.ANSWER_READY,
    pb.CLOSE: Status.CLOSED,
}


def command_meta(
    check: RequestCheck,
    context: pb.CommandContext,
    command_id: str,
    trace_parent: str,
    acting: Acting,
) -> CommandMeta:
    named: Actor | None = None
    # A person's command may leave the actor out: the person token says who acts.
    if context.HasField("actor") or acting.person is None:
        check.require(context.HasField("actor"), "context.actor", "is required")
        named = check.decode(lambda: actor_from_proto(context.actor, "context.actor"))
        check.require(bool(context.actor.id), "context.actor.id", "is required")
    # A request that names an actor badly is refused for that (INVALID_ARGUMENT) first.
    actor = acting.actor(named) if not check.violations else None
    identified_by = acting.identifier(context.identified_by) if not check.violations else ""
    if context.identified_by:
        _identifier(check, context.identified_by, named)
    check.require(context.expected_version >= 0, "context.expected_version", "must not be negative")
    check.require(
        len(context.idempotency_key) <= MAX_KEY_LENGTH,
        "context.idempotency_key",
        f"must be at most {MAX_KEY_LENGTH} characters",
    )
    check.require(
        not context.traceparent or bool(_TRACEPARENT.match(context.traceparent)),
        "context.traceparent",
        "must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)",
    )
    # Without ids from the caller, this command starts its own causal chain.
    causation = context.causation_id or command_id
    return CommandMeta(
        context=EventContext(
            actor=actor,  # type: ignore[arg-type]  # None only when the check fails
            correlation_id=context.correlation_id or causation,
            causation_id=causation,
            trace_parent=trace_parent,
            identified_by=identified_by,
        ),
        idempotency_key=context.idempotency_key,
        expected_version=context.expected_version,
        person=acting.person,
    )


def _identifier(check: RequestCheck, username: str, named: Actor | None) -> None:
    """An operator's username as the identity provider issues it; he acts for a citizen."""
    field = "context.identified_by"
    check.require(
        len(username) <= MAX_USERNAME_LENGTH,
        field,
        f"must be at most {MAX_USERNAME_LENGTH} characters (an identity provider's username)",
    )
    check.require(
        username.isprintable() and not any(c.isspace() for c in username),
        field,
        "must be an identity provider's username: printable, without spaces",
    )
    check.require(
        named is not None and named.kind is ActorKind.CITIZEN,
        field,
        "names the operator acting for a citizen: context.actor must be that CITIZEN",
    )


def attachments(check: RequestCheck, messages: Any, field: str) -> list[Attachment]:
    decoded = []
    for position, message in enumerate(messages):
        attachment(check, message, f"{field}[{position}]")
        decoded.append(attachment_from_proto(message))
    return decoded


def attachment(check: RequestCheck, message: types_pb2.Attachment, field: str) -> Attachment:
    check.require(bool(message.attachment_id), f"{field}.attachment_id", "is required")
    check.require(bool(message.file_name), f"{field}.file_name", "is required")
    check.require(message.size_bytes >= 0, f"{field}.size_bytes", "must not be negative")
    check.sha256(message.sha256, f"{field}.sha256")
    return attachment_from_proto(message)


def create_arguments(check: RequestCheck, request: pb.CreateCaseRequest) -> dict[str, Any]:
    content = request.content
    check.require(
        bool(content.subject.strip() or content.description.strip()),
        "content.subject",
        "a case needs a subject or a description",
    )
    if request.linked_to:
        check.case_id(request.linked_to, "linked_to")
    return {
        "channel": check.decode(lambda: require(Channel, request.channel, "channel")),
        "case_type": check.decode(lambda: require(CaseType, request.type, "type")),
        "category": check.decode(lambda: require(Category, request.category, "category")),
        "citizen": check.decode(lambda: citizen_from_proto(request.citizen)),
        "content": content_from_proto(content)
        if not content.HasField("problem_occurred_at")
        or check.instant(content.problem_occurred_at, "content.problem_occurred_at")
        else None,
        "queue": request.queue,
        "priority": check.decode(
            lambda: from_proto(Priority, request.priority, "priority", required=False)
        ),
        "origin": origin_from_proto(request.provenance),
        "attachments": attachments(check, request.attachments, "attachments"),
        "linked_to": request.linked_to,
    }


def status_target(check: RequestCheck, action: int) -> Status | None:
    target = ACTION_TARGETS.get(action)  # type: ignore[call-overload]
    check.require(
        target is not None,
        "action",
        "must be one of TAKE_IN_WORK, ASK_CLARIFICATION, ANSWER_READY_ACTION, CLOSE",
    )
    return target


def escalate_arguments(check: RequestCheck, request: pb.EscalateRequest) -> dict[str, Any]:
    return {
        "to_tier": check.decode(lambda: require(Tier, request.to_tier, "to_tier")),
        "reason": check.decode(
            lambda: from_proto(EscalationReason, request.reason, "reason", required=False)
        ),
        "cause_ref": request.cause_ref,
        "priority": check.decode(
            lambda: from_proto(Priority, request.priority, "priority", required=False)
        ),
        "callback_required": request.callback_required,
    }


def access_filter(check: RequestCheck, request: pb.ListAccessRecordsRequest) -> AccessFilter:
    if request.case_id:
        check.case_id(request.case_id)
    check.require(request.page_size >= 0, "page_size", "must not be negative")
    since = check.instant(request.since, "since") if request.HasField("since") else None
    until = check.instant(request.until, "until") if request.HasField("until") else None
    check.require(
        since is None or until is None or since < until, "until", "must be later than since"
    )
    return AccessFilter(case_id=request.case_id, person=request.person, since=since, until=until)


def repeat_arguments(check: RequestCheck, request: pb.RepeatCaseRequest) -> dict[str, Any]:
    """The channel the repeat came by (unset: the original's), its provenance, new files."""
    origin = origin_from_proto(request.provenance) if request.HasField("provenance") else None
    return {
        "channel": check.decode(
            lambda: from_proto(Channel, request.channel, "channel", required=False)
        ),
        "origin": origin if origin is not None and origin.kind else None,
        "attachments": attachments(check, request.attachments, "attachments"),
    }


def rating_arguments(check: RequestCheck, request: pb.RateAnswerRequest) -> dict[str, Any]:
    check.require(request.score in SCORES, "score", f"must be 1 to 5, not {request.score}")
    text_limit(check, request.comment, "comment", MAX_RATING_COMMENT)
    return {
        "score": request.score,
        "comment": request.comment,
        "channel": check.decode(
            lambda: from_proto(Channel, request.channel, "channel", required=False)
        ),
    }


def close_arguments(check: RequestCheck, request: pb.CloseCaseRequest) -> dict[str, Any]:
    known = len(check.violations)
    reason = check.decode(lambda: close_reason_from_proto(request.reason, "reason"))
    if len(check.violations) == known:  # a known value, but not the one a supervisor gives
        check.require(
            reason is CloseReason.SPAM,
            "reason",
            "must be SPAM: a duplicate is merged with MergeCases, an answered case closed with "
            "ChangeStatus CLOSE",
        )
    check.require(bool(request.explanation.strip()), "explanation", "say why: it is required")
    text_limit(check, request.explanation, "explanation", MAX_STAFF_TEXT)
    return {"reason": reason, "explanation": request.explanation}


def merge_checks(check: RequestCheck, request: pb.MergeCasesRequest) -> None:
    check.case_id(request.duplicate_case_id, "duplicate_case_id")
    check.case_id(request.target_case_id, "target_case_id")
    check.require(
        not request.duplicate_case_id or request.duplicate_case_id != request.target_case_id,
        "target_case_id",
        "a case cannot be merged into itself",
    )
    text_limit(check, request.reason, "reason", MAX_STAFF_TEXT)


def text_limit(check: RequestCheck, text: str, field: str, limit: int) -> None:
    check.require(
        len(text) <= limit, field, f"must be at most {limit:,} characters, not {len(text):,}"
    )
