"""E-mail from the gateway: a reply about a known case becomes a comment, anything else a case.

Only the case's owner may comment by mail: the sender address must be the case's e-mail (the
contact it was opened with, to which its notices go; the gateway checks the sender's SPF, DKIM and
DMARC before it calls). A message that names no case the sender may comment on, whether the case
does not exist or is another citizen's, registers a new EMAIL case, classified from its text like
any other: the answer tells nobody about somebody else's case.

The message is read off the event loop within limits (mail_reading.py); only the first
`case_lookups` numbers of its subject are looked up, the formal reference first. Automatic, list
and forged mail (domain/mail_rules.py) is neither a comment nor a case: the answer is `ignored`
with the reason, and nothing reaches the case service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from casedesk_intake.application.follow_ups import FollowUps
from casedesk_intake.application.mail_reading import MailReader, ReadMail
from casedesk_intake.application.ports import CaseService, RecentCase
from casedesk_intake.application.registration import CaseRegistration
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.cases import Case
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import InvalidRequest
from casedesk_intake.domain.field_rules import TextLimits
from casedesk_intake.domain.inbound_email import InboundEmail
from casedesk_intake.domain.mail_limits import MailLimits
from casedesk_intake.domain.replies import MailOutcome
from casedesk_intake.domain.submission_rules import SubmissionRules
from casedesk_intake.domain.submissions import CaseContent, EmailOrigin, Submission
from casedesk_runtime.logs import get_logger
from casedesk_vocabulary.enums import Channel, ContactChannel

NO_SUBJECT = "Обращение по электронной почте"
log = get_logger(__name__)


@dataclass(frozen=True)
class MailIntakeConfig:
    limits: MailLimits = field(default_factory=MailLimits)
    case_lookups: int = 3  # numbers of a subject looked up at most, the formal reference first
    parse_workers: int = 2  # threads that read raw mail
    # The gateway's authserv-id(s): only its Authentication-Results are believed. Empty: none.
    trusted_authserv_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.case_lookups < 1:
            raise ValueError("mail case_lookups must be at least 1")
        object.__setattr__(
            self, "trusted_authserv_ids", frozenset(i.lower() for i in self.trusted_authserv_ids)
        )


# The comment a reply of files alone becomes (a comment needs text; specialists read it).
FILES_ONLY_REPLY = "(ответ без текста: файлы во вложении)"


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
        config: MailIntakeConfig | None = None,
    ) -> None:
        self._cases = cases
        self._follow_ups = follow_ups
        self._registration = registration
        self._rules = rules
        self._limits = limits or TextLimits()
        self._config = config or MailIntakeConfig()
        self._reader = MailReader(
            self._config.limits, self._config.trusted_authserv_ids, self._config.parse_workers
        )

    async def read(self, raw: bytes) -> ReadMail:
        """The message, read off the event loop; InvalidRequest on `raw_message` if it cannot
        be read or exceeds a limit."""
        return await self._reader.read(raw)

    def close(self) -> None:
        self._reader.close()

    async def ingest(
        self, caller: Caller, mail: ReadMail, fallback_message_id: str, key: str
    ) -> tuple[MailOutcome, RecentCase | None]:
        email = mail.email
        if mail.ignored is not None:
            why = {"reason": mail.ignored.reason.value, "detail": mail.ignored.detail}
            log.info("mail ignored", extra={"frontend": caller.frontend.name, **why})
            return MailOutcome(ignored=mail.ignored), None
        case = await self._referenced_case(caller, email)
        if case is not None:
            uploads = email_uploads(email)
            body = email.body.strip()
            if not body and not uploads:
                # The case service would refuse a comment's empty `body`, a field the gateway
                # never sent: the problem is the message's.
                raise InvalidRequest(
                    [("raw_message", f"the reply to case {case.number} has no text and no files")]
                )
            commented = await self._follow_ups.comment(
                case, caller, body or FILES_ONLY_REPLY, uploads, key
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
        for number in email.case_number_candidates(at_most=self._config.case_lookups):
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
