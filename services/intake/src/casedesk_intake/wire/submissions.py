"""SubmitCaseRequest -> a checked domain Submission (the checks are domain/submission_rules.py)."""

from __future__ import annotations

from datetime import datetime

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.acting import Caller, submission_for
from casedesk_intake.domain.errors import IntakeError, InvalidRequest
from casedesk_intake.domain.requests import Request
from casedesk_intake.domain.submission_rules import SubmissionRules
from casedesk_intake.domain.submissions import Submission
from casedesk_intake.wire import values
from casedesk_intake.wire.digests import request_digest
from casedesk_intake.wire.enums import from_proto, known, to_proto
from casedesk_runtime.events import from_timestamp
from casedesk_vocabulary.enums import CaseType, Category, Channel, ContactChannel


def submission(request: intake_pb2.SubmitCaseRequest) -> Submission:
    """What the frontend sent, as domain values; what cannot be read is named in `unreadable`."""
    unreadable = set()
    if not known(CaseType, request.type):
        unreadable.add("type")
    if not known(Category, request.category):
        unreadable.add("category")
    if not known(ContactChannel, request.citizen.preferred_contact):
        unreadable.add("citizen.preferred_contact")
    occurred: datetime | None = None
    if request.content.HasField("problem_occurred_at"):
        try:
            occurred = from_timestamp(request.content.problem_occurred_at)
        except (ValueError, OverflowError):
            unreadable.add("content.problem_occurred_at")
    return Submission(
        idempotency_key=request.idempotency_key,
        channel=from_proto(Channel, request.channel),
        citizen=values.citizen(request.citizen),
        content=values.content(request.content, occurred),
        provenance=values.origin(request.provenance),
        attachments=values.uploads(request.attachments),
        case_type=from_proto(CaseType, request.type),
        category=from_proto(Category, request.category),
        unreadable=frozenset(unreadable),
    )


def submission_message(value: Submission) -> intake_pb2.SubmitCaseRequest:
    return intake_pb2.SubmitCaseRequest(
        idempotency_key=value.idempotency_key,
        channel=to_proto(value.channel),  # type: ignore[arg-type]
        citizen=values.citizen_message(value.citizen),
        content=values.content_message(value.content),
        provenance=values.provenance_message(value.provenance),
        attachments=values.upload_messages(value.attachments),
        type=to_proto(value.case_type),  # type: ignore[arg-type]
        category=to_proto(value.category),  # type: ignore[arg-type]
    )


def checked_submission(
    rules: SubmissionRules, caller: Caller, request: intake_pb2.SubmitCaseRequest
) -> Request[Submission]:
    """The submission made for the caller's citizen (domain/acting.py), checked; its digest is
    of the normalised submission, so a retry that differs only in spelling (spaces, phone
    format) is a retry."""
    given = submission(request)
    key = request.idempotency_key
    try:
        acting = submission_for(caller, given)
    except IntakeError as refusal:
        return Request(given, key, refusal=refusal)
    try:
        clean = rules.check(acting)
    except InvalidRequest as refusal:
        return Request(acting, key, refusal=refusal)
    digest = request_digest("SubmitCase", caller.identity(), submission_message(clean))
    return Request(clean, key, digest)
