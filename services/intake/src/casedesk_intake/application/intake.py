"""The intake use cases, one method per RPC: domain requests in, domain replies out.

Order of every call: whom it acts for, rate limits (cheapest refusal first), the frontend's
channel, the request's checks, a one-time code, then the idempotent run, so a rejected request
never uses up its idempotency key and a replayed reply goes only to whoever could have made it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass
from typing import Any

from casedesk_intake.application.access_codes import AccessCodes, CodeDeliveries
from casedesk_intake.application.admission import Admission
from casedesk_intake.application.follow_ups import CaseAccess, FollowUps
from casedesk_intake.application.idempotency import IdempotentCalls
from casedesk_intake.application.mail_intake import MailIntake, email_uploads
from casedesk_intake.application.ports import RecentCase, ReplyCodec
from casedesk_intake.application.registration import CaseRegistration
from casedesk_intake.application.watching import CaseWatching
from casedesk_intake.domain.access_codes import CodeRequested
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.attachment_rules import AttachmentRules
from casedesk_intake.domain.citizens import citizen_identity
from casedesk_intake.domain.field_rules import TextLimits, Violations
from casedesk_intake.domain.replies import (
    Acknowledgement,
    CitizenCase,
    CitizenCaseChange,
    CitizenCaseList,
    MailOutcome,
)
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
from casedesk_intake.domain.submissions import Submission
from casedesk_vocabulary.enums import Channel


@dataclass(frozen=True)
class ReplyCodecs:
    """How each kind of reply is kept for replay to a retry."""

    acknowledgement: ReplyCodec[Acknowledgement]
    citizen_case: ReplyCodec[CitizenCase]
    mail: ReplyCodec[MailOutcome]


class Intake:
    def __init__(
        self,
        admission: Admission,
        calls: IdempotentCalls,
        replies: ReplyCodecs,
        attachment_rules: AttachmentRules,
        registration: CaseRegistration,
        access: CaseAccess,
        follow_ups: FollowUps,
        mail: MailIntake,
        codes: AccessCodes,
        deliveries: CodeDeliveries,
        watching: CaseWatching,
        limits: TextLimits | None = None,
    ) -> None:
        self._admission = admission
        self._calls = calls
        self._replies = replies
        self._attachment_rules = attachment_rules
        self._registration = registration
        self._access = access
        self._follow_ups = follow_ups
        self._mail = mail
        self._codes = codes
        self._deliveries = deliveries
        self._watching = watching
        self._limits = limits or TextLimits()

    async def submit_case(self, caller: Caller, request: Request[Submission]) -> Acknowledgement:
        given = request.value
        self._admission.admit(caller, given.citizen.identity())
        if given.channel is not None:
            caller.frontend.check_channel(given.channel)
        clean = request.checked()

        def register(key: str) -> Awaitable[tuple[Acknowledgement, RecentCase | None]]:
            return self._registration.register(
                clean, key, identified_by=caller.operator, verified=bool(caller.citizen_login)
            )

        if clean.attachments:  # kept in the vault under the key before the case service sees it
            return await self._calls.run(caller, request, self._replies.acknowledgement, register)
        return await self._calls.run_on_receipt(caller, request, register)

    async def _follow_up(self, caller: Caller, request: Request[Any], number: str) -> None:
        """What every follow-up does first: whom it acts for, its rate, its checks, the code."""
        caller.require_acting()
        self._admission.admit(caller, f"case:{number[:32]}")
        request.checked()
        await self._access.prove(caller, number)

    async def add_comment(self, caller: Caller, request: Request[CommentRequest]) -> CitizenCase:
        comment = request.value
        await self._follow_up(caller, request, comment.case_number)

        async def run(key: str) -> tuple[CitizenCase, None]:
            case = await self._access.open(caller, comment.case_number)
            reply = await self._follow_ups.comment(
                case, caller, comment.body, comment.attachments, key
            )
            return reply, None

        return await self._calls.run(caller, request, self._replies.citizen_case, run)

    async def repeat_case(self, caller: Caller, request: Request[RepeatRequest]) -> Acknowledgement:
        repeat = request.value
        await self._follow_up(caller, request, repeat.case_number)

        async def run(key: str) -> tuple[Acknowledgement, None]:
            return await self._follow_ups.repeat(caller, repeat, key), None

        return await self._calls.run(caller, request, self._replies.acknowledgement, run)

    async def confirm_answer(
        self, caller: Caller, request: Request[ConfirmationRequest]
    ) -> CitizenCase:
        number = request.value.case_number
        await self._follow_up(caller, request, number)

        async def run(key: str) -> tuple[CitizenCase, None]:
            return await self._follow_ups.confirm_answer(caller, number, key), None

        return await self._calls.run(caller, request, self._replies.citizen_case, run)

    async def rate_answer(self, caller: Caller, request: Request[RatingRequest]) -> CitizenCase:
        rating = request.value
        await self._follow_up(caller, request, rating.case_number)

        async def run(key: str) -> tuple[CitizenCase, None]:
            return await self._follow_ups.rate_answer(caller, rating, key), None

        return await self._calls.run(caller, request, self._replies.citizen_case, run)

    async def watch_my_case(
        self, caller: Caller, request: Request[WatchRequest]
    ) -> AsyncGenerator[CitizenCaseChange, None]:
        """The stream's changes, once the call passed every check a follow-up passes."""
        await self._follow_up(caller, request, request.value.case_number)
        return self._watching.watch(caller, request.value)

    async def request_escalation(
        self, caller: Caller, request: Request[EscalationRequest]
    ) -> CitizenCase:
        plea = request.value
        await self._follow_up(caller, request, plea.case_number)

        async def run(key: str) -> tuple[CitizenCase, None]:
            return await self._follow_ups.request_escalation(caller, plea, key), None

        return await self._calls.run(caller, request, self._replies.citizen_case, run)

    async def get_case(self, caller: Caller, request: Request[str]) -> CitizenCase:
        await self._follow_up(caller, request, request.value)
        return await self._follow_ups.read(caller, request.value)

    async def list_my_cases(self, caller: Caller, request: Request[PageRequest]) -> CitizenCaseList:
        login = caller.require_portal_citizen()
        self._admission.admit(caller)
        page = request.checked()
        return await self._follow_ups.list_cases(login, page.page_size, page.page_token)

    async def request_access_code(self, caller: Caller, request: Request[str]) -> CodeRequested:
        self._admission.admit(caller)
        number = request.checked()
        answer = self._codes.accept_request(caller.frontend, number)
        self._deliveries.submit(caller.frontend, number)
        return answer

    async def ingest_email(self, caller: Caller, request: Request[bytes]) -> MailOutcome:
        caller.frontend.check_channel(Channel.EMAIL)
        mail = await self._mail.read(request.checked())  # off the event loop, within limits
        email = mail.email
        # Ignored mail (automatic, list, forged) is not the citizen's doing: it takes from the
        # gateway's bucket only. Else a robot answering him, or anyone forging his address,
        # would spend the citizen's own allowance and his real reply would be refused.
        sender = citizen_identity(email=email.from_address) if mail.ignored is None else ""
        self._admission.admit(caller, sender)
        if mail.ignored is None:  # an ignored message's text and files go nowhere: not checked
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
            request,
            self._replies.mail,
            lambda key: self._mail.ingest(caller, mail, request.idempotency_key, key),
        )
