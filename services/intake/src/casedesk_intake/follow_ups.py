"""What a citizen does with his own cases: comment, repeat, ask for escalation, read, list.

Every call first loads the case and checks that it belongs to the citizen the frontend acts for;
another citizen's case is refused without telling what is in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.adapters.case_client import CaseClient
from casedesk_intake.adapters.keys import CitizenReferences, citizen_identity
from casedesk_intake.attachments import AttachmentKeeper
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.errors import CaseNotFound, NotYourCase
from casedesk_intake.registration import citizen_actor, command_context
from casedesk_intake.replies import Replies, citizen_case, citizen_case_summary


class CaseOwnership:
    """Finding a case by number on behalf of its owner."""

    def __init__(self, cases: CaseClient, references: CitizenReferences) -> None:
        self._cases = cases
        self._references = references

    async def find(self, number: str) -> case_pb2.CaseView:
        case = await self._cases.find_by_number(number)
        if case is None:
            raise CaseNotFound(number)
        return case

    async def owned_by_login(self, login: str, number: str) -> case_pb2.CaseView:
        case = await self.find(number)
        if not login or case.citizen.account_login != login:
            raise NotYourCase(f"case {number} belongs to another citizen")
        return case

    def reference_of(self, case: case_pb2.CaseView) -> str:
        """The case's citizen, the same reference its creation stored attachments under."""
        citizen = case.citizen
        identity = citizen_identity(citizen.account_login, citizen.email, citizen.mobile_phone)
        return self._references.of(identity)


class FollowUps:
    def __init__(
        self,
        cases: CaseClient,
        ownership: CaseOwnership,
        keeper: AttachmentKeeper,
        replies: Replies,
    ) -> None:
        self._cases = cases
        self._ownership = ownership
        self._keeper = keeper
        self._replies = replies

    async def comment(
        self, case: case_pb2.CaseView, login: str, body: str, files: Sequence[Upload], key: str
    ) -> intake_pb2.CitizenCase:
        reference = self._ownership.reference_of(case)
        attachments = await self._keeper.keep(reference, key, files)
        updated = await self._cases.add_comment(
            case_pb2.AddCommentRequest(
                context=command_context(citizen_actor(login, reference), key),
                case_id=case.case_id,
                body=body,
                public=True,
                attachments=attachments,
            )
        )
        return citizen_case(updated)

    async def repeat(
        self, login: str, number: str, reason: str, key: str
    ) -> intake_pb2.Acknowledgement:
        original = await self._ownership.owned_by_login(login, number)
        reference = self._ownership.reference_of(original)
        repeated = await self._cases.repeat_case(
            case_pb2.RepeatCaseRequest(
                context=command_context(citizen_actor(login, reference), key),
                case_id=original.case_id,
                reason=reason,
            )
        )
        return self._replies.acknowledgement(repeated, repeat_of_number=number)

    async def request_escalation(
        self, login: str, request: intake_pb2.RequestEscalationRequest, explanation: str, key: str
    ) -> intake_pb2.CitizenCase:
        case = await self._ownership.owned_by_login(login, request.case_number)
        reference = self._ownership.reference_of(case)
        updated = await self._cases.request_escalation(
            case_pb2.RequestEscalationRequest(
                context=command_context(citizen_actor(login, reference), key),
                case_id=case.case_id,
                reason=request.reason,
                explanation=explanation,
            )
        )
        return citizen_case(updated)

    async def read(self, login: str, number: str) -> intake_pb2.CitizenCase:
        return citizen_case(await self._ownership.owned_by_login(login, number))

    async def list_cases(
        self, login: str, page_size: int, page_token: str
    ) -> intake_pb2.CitizenCaseList:
        page = await self._cases.list_for_citizen(login, page_size, page_token)
        return intake_pb2.CitizenCaseList(
            cases=[citizen_case_summary(summary) for summary in page.cases],
            next_page_token=page.next_page_token,
        )
