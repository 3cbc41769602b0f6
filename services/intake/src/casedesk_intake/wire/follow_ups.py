"""The citizen's follow-up calls on an existing case, and the e-mail gateway's raw messages:
decoded and checked with the domain's field rules."""

from __future__ import annotations

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.acting import Caller, repeat_origin
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.errors import IntakeError, InvalidRequest
from casedesk_intake.domain.field_rules import TextLimits, Violations
from casedesk_intake.domain.provenance_rules import ProvenanceRules
from casedesk_intake.domain.request_limits import MAX_RAW_EMAIL_BYTES
from casedesk_intake.domain.requests import (
    CommentRequest,
    ConfirmationRequest,
    EscalationRequest,
    PageRequest,
    RatingRequest,
    RepeatRequest,
    Request,
    WatchRequest,
)
from casedesk_intake.wire import values
from casedesk_intake.wire.digests import request_digest
from casedesk_intake.wire.enums import from_proto, known
from casedesk_vocabulary.enums import Channel, EscalationReason

# Breach reasons are raised by the SLA service, not by citizens.
CITIZEN_ESCALATION_REASONS = (
    EscalationReason.NO_ANSWER_IN_TIME,
    EscalationReason.UNSATISFYING_ANSWER,
    EscalationReason.CRITICAL_ERROR,
)
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SCORES = range(1, 6)
# A watch request is a case number and a version: anything much larger is padding (unknown
# fields), which would stay in memory as long as the stream, so it is refused at once.
MAX_WATCH_REQUEST_BYTES = 1024
DEFAULT_SOCIAL_NETWORKS = ("telegram", "vk", "ok", "facebook", "instagram", "max")


def _verdict(found: Violations) -> InvalidRequest | None:
    return InvalidRequest(found.items) if found.items else None


class FollowUpRequests:
    def __init__(
        self,
        attachments: AttachmentRules,
        limits: TextLimits | None = None,
        social_networks: tuple[str, ...] | list[str] = DEFAULT_SOCIAL_NETWORKS,
    ) -> None:
        self._attachments = attachments
        self._limits = limits or TextLimits()
        # A repeat through another channel says where it came from there, as a new case does.
        self._provenance = ProvenanceRules(social_networks, self._limits.reference)

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
        """`channel`: the frontend's (and its proof's, domain/acting.repeat_origin), with the
        provenance there checked as SubmitCase checks it; unset: the original's, and then no
        provenance (the case service keeps the original's)."""
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        reason = found.text("reason", request.reason, self._limits.reason, required=True)
        uploads = values.uploads(request.attachments)
        found.extend(self._attachments.violations(uploads, "attachments"))
        channel = from_proto(Channel, request.channel)
        origin = values.origin(request.provenance)
        refusal: IntakeError | None = None
        if not known(Channel, request.channel):
            found.add("channel", f"must be one of {', '.join(c.value for c in Channel)}, or unset")
        elif channel is None:
            if origin is not None:
                found.add("provenance", "comes with the channel it belongs to: set channel too")
        else:
            try:
                origin = repeat_origin(caller, channel, origin)
            except IntakeError as refused:
                refusal = refused
            origin = self._provenance.check(found, origin, channel)
        repeat = RepeatRequest(request.case_number, reason, channel, origin, uploads)
        return Request(
            repeat,
            request.idempotency_key,
            request_digest("RepeatCase", caller.identity(), request),
            refusal or _verdict(found),
        )

    def confirm_answer(
        self, caller: Caller, request: intake_pb2.ConfirmAnswerRequest
    ) -> Request[ConfirmationRequest]:
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        return Request(
            ConfirmationRequest(request.case_number),
            request.idempotency_key,
            request_digest("ConfirmAnswer", caller.identity(), request),
            _verdict(found),
        )

    def rate_answer(
        self, caller: Caller, request: intake_pb2.RateAnswerRequest
    ) -> Request[RatingRequest]:
        """The comment is stripped of surrounding white space."""
        found = Violations()
        found.idempotency_key(request.idempotency_key)
        found.case_number(request.case_number)
        if request.score not in SCORES:
            found.add("score", "must be 1 to 5")
        comment = found.text("comment", request.comment, self._limits.rating_comment)
        return Request(
            RatingRequest(request.case_number, request.score, comment),
            request.idempotency_key,
            request_digest("RateAnswer", caller.identity(), request),
            _verdict(found),
        )

    def watch_my_case(self, request: intake_pb2.WatchMyCaseRequest) -> Request[WatchRequest]:
        found = Violations()
        size = request.ByteSize()
        if size > MAX_WATCH_REQUEST_BYTES:
            found.add(
                "request", f"is {size} bytes, more than the {MAX_WATCH_REQUEST_BYTES} a watch needs"
            )
        found.case_number(request.case_number)
        if request.after_version < 0:
            found.add("after_version", "must not be negative (0: the case now, then its changes)")
        watch = WatchRequest(request.case_number, request.after_version)
        return Request(watch, refusal=_verdict(found))

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
