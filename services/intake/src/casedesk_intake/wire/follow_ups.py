"""The citizen's follow-up calls on an existing case, and the e-mail gateway's raw messages:
decoded and checked with the domain's field rules."""

from __future__ import annotations

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.domain.field_rules import TextLimits, Violations
from casedesk_intake.domain.request_limits import MAX_RAW_EMAIL_BYTES
from casedesk_intake.domain.requests import (
    CommentRequest,
    EscalationRequest,
    PageRequest,
    RepeatRequest,
    Request,
)
from casedesk_intake.wire import values
from casedesk_intake.wire.digests import request_digest
from casedesk_intake.wire.enums import from_proto
from casedesk_vocabulary.enums import EscalationReason

# Breach reasons are raised by the SLA service, not by citizens.
CITIZEN_ESCALATION_REASONS = (
    EscalationReason.NO_ANSWER_IN_TIME,
    EscalationReason.UNSATISFYING_ANSWER,
    EscalationReason.CRITICAL_ERROR,
)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _verdict(found: Violations) -> InvalidRequest | None:
    return InvalidRequest(found.items) if found.items else None


class FollowUpRequests:
    def __init__(self, attachments: AttachmentRules, limits: TextLimits | None = None) -> None:
        self._attachments = attachments
        self._limits = limits or TextLimits()

    def add_comment(
        self, caller: Caller, request: intake_pb2.AddCommentRequest
    ) -> Request[CommentRequest]:
        """The comment body is stripped of surrounding white space."""
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        body = found.text("body", request.body, self._limits.comment)
        body_reported = any(field == "body" for field, _ in found.items)
        if not body and not request.attachments and not body_reported:
            found.add("body", "is required (or at least one attachment)")
        uploads = values.uploads(request.attachments)
        found.extend(self._attachments.violations(uploads, "attachments"))
        return Request(
            CommentRequest(request.case_number, body, uploads),
            request.idempotency_key,
            request_digest("AddComment", caller.identity(), request),
            _verdict(found),
        )

    def repeat_case(
        self, caller: Caller, request: intake_pb2.RepeatCaseRequest
    ) -> Request[RepeatRequest]:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        reason = found.text("reason", request.reason, self._limits.reason, required=True)
        return Request(
            RepeatRequest(request.case_number, reason),
            request.idempotency_key,
            request_digest("RepeatCase", caller.identity(), request),
            _verdict(found),
        )

    def request_escalation(
        self, caller: Caller, request: intake_pb2.RequestEscalationRequest
    ) -> Request[EscalationRequest]:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        reason = from_proto(EscalationReason, request.reason)
        if reason not in CITIZEN_ESCALATION_REASONS:
            found.add(
                "reason",
                "must be NO_ANSWER_IN_TIME, UNSATISFYING_ANSWER or CRITICAL_ERROR",
            )
        explanation = found.text("explanation", request.explanation, self._limits.reason)
        return Request(
            EscalationRequest(request.case_number, reason, explanation),
            request.idempotency_key,
            request_digest("RequestEscalation", caller.identity(), request),
            _verdict(found),
        )

    def get_case(self, request: intake_pb2.GetCaseRequest) -> Request[str]:
        found = Violations()
        found.case_number(request.case_number)
        return Request(request.case_number, refusal=_verdict(found))

    def request_access_code(self, request: intake_pb2.RequestAccessCodeRequest) -> Request[str]:
        found = Violations()
        found.case_number(request.case_number)
        return Request(request.case_number, refusal=_verdict(found))

    def list_my_cases(self, request: intake_pb2.ListMyCasesRequest) -> Request[PageRequest]:
        found = Violations()
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            found.add("page_size", f"must be between 0 (default {DEFAULT_PAGE_SIZE}) and 100")
        found.text("page_token", request.page_token, 512)
        page = PageRequest(request.page_size or DEFAULT_PAGE_SIZE, request.page_token)
        return Request(page, refusal=_verdict(found))

    def ingest_email(
        self, caller: Caller, request: intake_pb2.IngestEmailRequest
    ) -> Request[bytes]:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        if not request.raw_message.strip():
            found.add("raw_message", "is required")
        elif len(request.raw_message) > MAX_RAW_EMAIL_BYTES:
            found.add("raw_message", f"is larger than {MAX_RAW_EMAIL_BYTES} bytes")
        return Request(
            request.raw_message,
            request.idempotency_key,
            request_digest("IngestEmail", caller.identity(), request),
            _verdict(found),
        )
