"""E-mail from the gateway: a reply about a known case becomes a comment, anything else a case.

Only the case's owner may comment by mail: the sender address must be the case's e-mail (or the
gateway names the owner's login). A message that names no known case registers a new EMAIL case,
classified from its text like any other.
"""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.adapters.case_client import CaseClient
from casedesk_intake.adapters.store import RecentCase
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.inbound_email import InboundEmail
from casedesk_intake.errors import InvalidRequest, NotYourCase
from casedesk_intake.follow_ups import CaseOwnership, FollowUps
from casedesk_intake.frontends import Caller
from casedesk_intake.registration import CaseRegistration
from casedesk_intake.validation.fields import TextLimits
from casedesk_intake.validation.submission import SubmissionValidator

NO_SUBJECT = "Обращение по электронной почте"


def email_uploads(email: InboundEmail) -> list[Upload]:
    return [Upload(a.file_name, a.media_type, a.content) for a in email.attachments]


class MailIntake:
    def __init__(
        self,
        cases: CaseClient,
        ownership: CaseOwnership,
        follow_ups: FollowUps,
        registration: CaseRegistration,
        validator: SubmissionValidator,
        limits: TextLimits | None = None,
    ) -> None:
        self._cases = cases
        self._ownership = ownership
        self._follow_ups = follow_ups
        self._registration = registration
        self._validator = validator
        self._limits = limits or TextLimits()

    async def ingest(
        self, caller: Caller, email: InboundEmail, fallback_message_id: str, key: str
    ) -> tuple[intake_pb2.IngestEmailResponse, RecentCase | None]:
        case = await self._referenced_case(email)
        if case is not None:
            login = self._check_sender(case, caller, email)
            commented = await self._follow_ups.comment(
                case, login, email.body, email_uploads(email), key
            )
            return intake_pb2.IngestEmailResponse(commented=commented), None
        submission = self._submission(caller, email, fallback_message_id)
        try:
            clean = self._validator.check(submission)
        except InvalidRequest as problem:
            # The frontend sent a raw message, so every problem is a problem of the message.
            raise InvalidRequest(
                ("raw_message", f"{field} {text}") for field, text in problem.violations
            ) from None
        acknowledgement, recent = await self._registration.register(clean, key)
        return intake_pb2.IngestEmailResponse(created=acknowledgement), recent

    async def _referenced_case(self, email: InboundEmail) -> case_pb2.CaseView | None:
        for number in email.case_number_candidates():
            case = await self._cases.find_by_number(number)
            if case is not None:
                return case
        return None

    def _check_sender(self, case: case_pb2.CaseView, caller: Caller, email: InboundEmail) -> str:
        """The login to act as: the owner's, once the sender is known to be the owner."""
        owner = case.citizen
        if caller.citizen_login:
            if owner.account_login != caller.citizen_login:
                raise NotYourCase(f"case {case.number} belongs to another citizen")
            return caller.citizen_login
        if not owner.email or owner.email.lower() != email.from_address.lower():
            raise NotYourCase(
                f"case {case.number} can be commented by mail only from the case's e-mail address"
            )
        return owner.account_login

    def _submission(
        self, caller: Caller, email: InboundEmail, fallback_message_id: str
    ) -> intake_pb2.SubmitCaseRequest:
        subject = email.subject[: self._limits.subject].strip() or NO_SUBJECT
        request = intake_pb2.SubmitCaseRequest(
            idempotency_key=fallback_message_id,
            channel=types_pb2.EMAIL,
            citizen=types_pb2.Citizen(
                full_name=email.from_name[: self._limits.full_name],
                account_login=caller.citizen_login,
                email=email.from_address,
                preferred_contact=types_pb2.CONTACT_EMAIL,
            ),
            content=types_pb2.CaseContent(subject=subject, description=email.body or subject),
            provenance=types_pb2.Provenance(
                email=types_pb2.EmailOrigin(
                    message_id=email.message_id or fallback_message_id,
                    from_address=email.from_address,
                )
            ),
        )
        for upload in email_uploads(email):
            request.attachments.add(
                file_name=upload.file_name, media_type=upload.media_type, content=upload.content
            )
        return request
