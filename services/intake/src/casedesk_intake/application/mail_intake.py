"""E-mail from the gateway: a reply about a known case becomes a comment, anything else a case.

Only the case's owner may comment by mail: the sender address must be the case's e-mail (the
contact it was opened with, to which its notices go; the gateway checks the sender's SPF, DKIM and
DMARC before it calls). A message that names no case the sender may comment on, whether the case
does not exist or is another citizen's, registers a new EMAIL case, classified from its text like
any other: the answer tells nobody about somebody else's case.
"""

from __future__ import annotations

from casedesk_intake.application.follow_ups import FollowUps
from casedesk_intake.application.ports import CaseService, RecentCase
from casedesk_intake.application.registration import CaseRegistration
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.cases import Case
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.domain.field_rules import TextLimits
from casedesk_intake.domain.inbound_email import InboundEmail
from casedesk_intake.domain.replies import MailOutcome
from casedesk_intake.domain.submission_rules import SubmissionRules
from casedesk_intake.domain.submissions import CaseContent, EmailOrigin, Submission
from casedesk_vocabulary.enums import Channel, ContactChannel

NO_SUBJECT = "Обращение по электронной почте"


def email_uploads(email: InboundEmail) -> list[Upload]:
    return [Upload(a.file_name, a.media_type, a.content) for a in email.attachments]


class MailIntake:
    def __init__(
        self,
        cases: CaseService,
        follow_ups: FollowUps,
        registration: CaseRegistration,
        rules: SubmissionRules,
        limits: TextLimits | None = None,
    ) -> None:
        self._cases = cases
        self._follow_ups = follow_ups
        self._registration = registration
        self._rules = rules
        self._limits = limits or TextLimits()

    async def ingest(
        self, caller: Caller, email: InboundEmail, fallback_message_id: str, key: str
    ) -> tuple[MailOutcome, RecentCase | None]:
        case = await self._referenced_case(caller, email)
        if case is not None:
            commented = await self._follow_ups.comment(
                case, caller, email.body, email_uploads(email), key
            )
            return MailOutcome(commented=commented), None
        submission = self._submission(caller, email, fallback_message_id)
        try:
            clean = self._rules.check(submission)
        except InvalidRequest as problem:
            # The frontend sent a raw message, so every problem is a problem of the message.
            raise InvalidRequest(
                ("raw_message", f"{field} {text}") for field, text in problem.violations
            ) from None
        acknowledgement, recent = await self._registration.register(
            clean, key, verified=bool(caller.citizen_login)
        )
        return MailOutcome(created=acknowledgement), recent

    async def _referenced_case(self, caller: Caller, email: InboundEmail) -> Case | None:
        for number in email.case_number_candidates():
            case = await self._cases.find_by_number(number)
            if case is not None and _sent_by_owner(case, caller, email):
                return case
        return None

    def _submission(
        self, caller: Caller, email: InboundEmail, fallback_message_id: str
    ) -> Submission:
        subject = email.subject[: self._limits.subject].strip() or NO_SUBJECT
        return Submission(
            idempotency_key=fallback_message_id,
            channel=Channel.EMAIL,
            citizen=Citizen(
                full_name=email.from_name[: self._limits.full_name],
                account_login=caller.citizen_login,
                email=email.from_address,
                preferred_contact=ContactChannel.EMAIL,
            ),
            content=CaseContent(subject=subject, description=email.body or subject),
            provenance=EmailOrigin(
                message_id=email.message_id or fallback_message_id,
                from_address=email.from_address,
            ),
            attachments=tuple(email_uploads(email)),
        )


def _sent_by_owner(case: Case, caller: Caller, email: InboundEmail) -> bool:
    """The portal citizen the gateway proved (his token), else the case's own e-mail address."""
    if caller.citizen_login:
        return case.citizen.account_login == caller.citizen_login
    owner = case.citizen.email
    return bool(owner) and owner.lower() == email.from_address.lower()
