"""The intake use cases as the transport calls them, one method per RPC.

Order of every call: rate limits (cheapest refusal first), the frontend's channel, validation,
then the idempotent run, so a rejected request never uses up its idempotency key.
"""

from __future__ import annotations

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.adapters.keys import citizen_identity
from casedesk_intake.admission import Admission
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.inbound_email import MalformedEmail, parse_email
from casedesk_intake.errors import InvalidRequest, NotYourCase
from casedesk_intake.follow_ups import CaseOwnership, FollowUps
from casedesk_intake.frontends import Caller
from casedesk_intake.idempotency import IdempotentCalls
from casedesk_intake.mail_intake import MailIntake, email_uploads
from casedesk_intake.registration import CaseRegistration
from casedesk_intake.validation.fields import TextLimits, Violations
from casedesk_intake.validation.follow_ups import FollowUpValidator
from casedesk_intake.validation.submission import SubmissionValidator, enum_name, uploads


class Intake:
    def __init__(
        self,
        admission: Admission,
        calls: IdempotentCalls,
        submissions: SubmissionValidator,
        follow_up_checks: FollowUpValidator,
        attachment_rules: AttachmentRules,
        registration: CaseRegistration,
        ownership: CaseOwnership,
        follow_ups: FollowUps,
        mail: MailIntake,
        limits: TextLimits | None = None,
    ) -> None:
        self._admission = admission
        self._calls = calls
        self._submissions = submissions
        self._checks = follow_up_checks
        self._attachment_rules = attachment_rules
        self._registration = registration
        self._ownership = ownership
        self._follow_ups = follow_ups
        self._mail = mail
        self._limits = limits or TextLimits()

    async def submit_case(
        self, caller: Caller, request: intake_pb2.SubmitCaseRequest
    ) -> intake_pb2.Acknowledgement:
        given = request.citizen
        self._admission.admit(
            caller, citizen_identity(given.account_login, given.email, given.mobile_phone)
        )
        channel = enum_name(types_pb2.Channel, request.channel)
        if channel:
            caller.frontend.check_channel(channel)
        clean = self._submissions.check(_acting_for(caller, request))
        return await self._calls.run(
            caller,
            "SubmitCase",
            clean,
            intake_pb2.Acknowledgement,
            lambda key: self._registration.register(clean, key),
        )

    async def add_comment(
        self, caller: Caller, request: intake_pb2.AddCommentRequest
    ) -> intake_pb2.CitizenCase:
        login = caller.require_citizen()
        self._admission.admit(caller)
        body = self._checks.add_comment(request)

        async def comment(key: str) -> tuple[intake_pb2.CitizenCase, None]:
            case = await self._ownership.owned_by_login(login, request.case_number)
            files = uploads(request.attachments)
            return await self._follow_ups.comment(case, login, body, files, key), None

        return await self._calls.run(caller, "AddComment", request, intake_pb2.CitizenCase, comment)

    async def repeat_case(
        self, caller: Caller, request: intake_pb2.RepeatCaseRequest
    ) -> intake_pb2.Acknowledgement:
        login = caller.require_citizen()
        self._admission.admit(caller)
        reason = self._checks.repeat_case(request)

        async def repeat(key: str) -> tuple[intake_pb2.Acknowledgement, None]:
            return await self._follow_ups.repeat(login, request.case_number, reason, key), None

        return await self._calls.run(
            caller, "RepeatCase", request, intake_pb2.Acknowledgement, repeat
        )

    async def request_escalation(
        self, caller: Caller, request: intake_pb2.RequestEscalationRequest
    ) -> intake_pb2.CitizenCase:
        login = caller.require_citizen()
        self._admission.admit(caller)
        explanation = self._checks.request_escalation(request)

        async def escalate(key: str) -> tuple[intake_pb2.CitizenCase, None]:
            reply = await self._follow_ups.request_escalation(login, request, explanation, key)
            return reply, None

        return await self._calls.run(
            caller, "RequestEscalation", request, intake_pb2.CitizenCase, escalate
        )

    async def get_case(
        self, caller: Caller, request: intake_pb2.GetCaseRequest
    ) -> intake_pb2.CitizenCase:
        login = caller.require_citizen()
        self._admission.admit(caller)
        self._checks.get_case(request)
        return await self._follow_ups.read(login, request.case_number)

    async def list_my_cases(
        self, caller: Caller, request: intake_pb2.ListMyCasesRequest
    ) -> intake_pb2.CitizenCaseList:
        login = caller.require_citizen()
        self._admission.admit(caller)
        page_size = self._checks.list_my_cases(request)
        return await self._follow_ups.list_cases(login, page_size, request.page_token)

    async def ingest_email(
        self, caller: Caller, request: intake_pb2.IngestEmailRequest
    ) -> intake_pb2.IngestEmailResponse:
        caller.frontend.check_channel("EMAIL")
        self._checks.ingest_email(request)
        try:
            email = parse_email(request.raw_message)
        except MalformedEmail as problem:
            raise InvalidRequest([("raw_message", str(problem))]) from None
        self._admission.admit(caller, citizen_identity(email=email.from_address))
        found = Violations()
        found.text("raw_message", email.body, self._limits.comment)
        found.extend(
            ("raw_message", f"{field} {text}")
            for field, text in self._attachment_rules.violations(
                email_uploads(email), "attachments"
            )
        )
        found.raise_if_any()
        return await self._calls.run(
            caller,
            "IngestEmail",
            request,
            intake_pb2.IngestEmailResponse,
            lambda key: self._mail.ingest(caller, email, request.idempotency_key, key),
        )


def _acting_for(
    caller: Caller, request: intake_pb2.SubmitCaseRequest
) -> intake_pb2.SubmitCaseRequest:
    """The submission with the citizen's login taken from the caller's metadata."""
    if not caller.citizen_login:
        return request
    given = request.citizen.account_login
    if given and given != caller.citizen_login:
        raise NotYourCase("citizen.account_login differs from the x-citizen-login of the call")
    acting = intake_pb2.SubmitCaseRequest()
    acting.CopyFrom(request)
    acting.citizen.account_login = caller.citizen_login
    return acting
