"""What a citizen does with his own cases: comment, repeat, ask for escalation, read, list.

Every call first loads the case and checks that it belongs to the citizen the frontend acts for;
another citizen's case is refused without telling what is in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from casedesk_intake.application.acknowledgements import Acknowledgements
from casedesk_intake.application.attachments import AttachmentKeeper
from casedesk_intake.application.ports import CaseService, CitizenReferences
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.cases import (
    Case,
    Command,
    EscalationPlea,
    NewComment,
    Repetition,
    citizen_actor,
)
from casedesk_intake.domain.errors import CaseNotFound, NotYourCase
from casedesk_intake.domain.replies import Acknowledgement, CitizenCase, CitizenCaseList
from casedesk_intake.domain.requests import EscalationRequest


class CaseOwnership:
    """Finding a case by number on behalf of its owner."""

    def __init__(self, cases: CaseService, references: CitizenReferences) -> None:
        self._cases = cases
        self._references = references

    async def find(self, number: str) -> Case:
        case = await self._cases.find_by_number(number)
        if case is None:
            raise CaseNotFound(number)
        return case

    async def owned_by_login(self, login: str, number: str) -> Case:
        case = await self.find(number)
        if not login or case.citizen.account_login != login:
            raise NotYourCase(f"case {number} belongs to another citizen")
        return case

    def reference_of(self, case: Case) -> str:
        """The case's citizen, the same reference its creation stored attachments under."""
        return self._references.of(case.citizen.identity())


class FollowUps:
    def __init__(
        self,
        cases: CaseService,
        ownership: CaseOwnership,
        keeper: AttachmentKeeper,
        acknowledgements: Acknowledgements,
    ) -> None:
        self._cases = cases
        self._ownership = ownership
        self._keeper = keeper
        self._acknowledgements = acknowledgements

    async def comment(
        self, case: Case, login: str, body: str, files: Sequence[Upload], key: str
    ) -> CitizenCase:
        reference = self._ownership.reference_of(case)
        attachments = await self._keeper.keep(reference, key, files)
        updated = await self._cases.add_comment(
            NewComment(
                command=Command(key, citizen_actor(login, reference)),
                case_id=case.case_id,
                body=body,
                public=True,
                attachments=attachments,
            )
        )
        return CitizenCase.of(updated)

    async def repeat(self, login: str, number: str, reason: str, key: str) -> Acknowledgement:
        original = await self._ownership.owned_by_login(login, number)
        reference = self._ownership.reference_of(original)
        repeated = await self._cases.repeat_case(
            Repetition(
                command=Command(key, citizen_actor(login, reference)),
                case_id=original.case_id,
                reason=reason,
            )
        )
        return self._acknowledgements.of(repeated, repeat_of_number=number)

    async def request_escalation(
        self, login: str, request: EscalationRequest, key: str
    ) -> CitizenCase:
        case = await self._ownership.owned_by_login(login, request.case_number)
        reference = self._ownership.reference_of(case)
        assert request.reason is not None  # the request's checks allow citizens' reasons only
        updated = await self._cases.request_escalation(
            EscalationPlea(
                command=Command(key, citizen_actor(login, reference)),
                case_id=case.case_id,
                reason=request.reason,
                explanation=request.explanation,
            )
        )
        return CitizenCase.of(updated)

    async def read(self, login: str, number: str) -> CitizenCase:
        return CitizenCase.of(await self._ownership.owned_by_login(login, number))

    async def list_cases(self, login: str, page_size: int, page_token: str) -> CitizenCaseList:
        page = await self._cases.list_for_citizen(login, page_size, page_token)
        return CitizenCaseList(
            cases=tuple(CitizenCase.of_summary(summary) for summary in page.cases),
            next_page_token=page.next_page_token,
        )
