"""The citizen's follow-up calls on an existing case, and the e-mail gateway's raw messages."""

from __future__ import annotations

from casedesk.case.v1 import events_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.validation.fields import TextLimits, Violations
from casedesk_intake.validation.submission import uploads

# Breach reasons are raised by the SLA service, not by citizens.
CITIZEN_ESCALATION_REASONS = (
    events_pb2.NO_ANSWER_IN_TIME,
    events_pb2.UNSATISFYING_ANSWER,
    events_pb2.CRITICAL_ERROR,
)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_RAW_EMAIL_BYTES = 4 * 1024 * 1024


class FollowUpValidator:
    def __init__(self, attachments: AttachmentRules, limits: TextLimits | None = None) -> None:
        self._attachments = attachments
        self._limits = limits or TextLimits()

    def add_comment(self, request: intake_pb2.AddCommentRequest) -> str:
        """Returns the comment body stripped of surrounding white space."""
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        body = found.text("body", request.body, self._limits.comment)
        body_reported = any(field == "body" for field, _ in found.items)
        if not body and not request.attachments and not body_reported:
            found.add("body", "is required (or at least one attachment)")
        found.extend(self._attachments.violations(uploads(request.attachments), "attachments"))
        found.raise_if_any()
        return body

    def repeat_case(self, request: intake_pb2.RepeatCaseRequest) -> str:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        reason = found.text("reason", request.reason, self._limits.reason, required=True)
        found.raise_if_any()
        return reason

    def request_escalation(self, request: intake_pb2.RequestEscalationRequest) -> str:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        if request.reason not in CITIZEN_ESCALATION_REASONS:
            found.add(
                "reason",
                "must be NO_ANSWER_IN_TIME, UNSATISFYING_ANSWER or CRITICAL_ERROR",
            )
        explanation = found.text("explanation", request.explanation, self._limits.reason)
        found.raise_if_any()
        return explanation

    def get_case(self, request: intake_pb2.GetCaseRequest) -> None:
        found = Violations()
        found.case_number(request.case_number)
        found.raise_if_any()

    def list_my_cases(self, request: intake_pb2.ListMyCasesRequest) -> int:
        """Returns the page size to use."""
        found = Violations()
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            found.add("page_size", f"must be between 0 (default {DEFAULT_PAGE_SIZE}) and 100")
        found.text("page_token", request.page_token, 512)
        found.raise_if_any()
        return request.page_size or DEFAULT_PAGE_SIZE

    def ingest_email(self, request: intake_pb2.IngestEmailRequest) -> None:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        if not request.raw_message.strip():
            found.add("raw_message", "is required")
        elif len(request.raw_message) > MAX_RAW_EMAIL_BYTES:
            found.add("raw_message", f"is larger than {MAX_RAW_EMAIL_BYTES} bytes")
        found.raise_if_any()
