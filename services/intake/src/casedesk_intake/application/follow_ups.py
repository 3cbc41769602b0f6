"""What a citizen does with his cases: comment, repeat, ask for escalation, confirm or rate the
answer, read, list.

Every call first opens the case for the caller (`CaseAccess`): a case the caller may not see
(domain/acting.py) answers exactly like one that does not exist, so nobody learns whether another
citizen's case exists, let alone what is in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from casedesk_intake.application.access_codes import AccessCodes
from casedesk_intake.application.acknowledgements import Acknowledgements
from casedesk_intake.application.attachments import AttachmentKeeper
from casedesk_intake.application.idempotency import acting_on
from casedesk_intake.application.ports import CaseService, CitizenReferences
from casedesk_intake.domain.acting import Caller, Operator
from casedesk_intake.domain.attachment_rules import Upload
from casedesk_intake.domain.cases import (
    AnswerConfirmation,
    AnswerRating,
    Case,
    Command,
    EscalationPlea,
    NewComment,
    Repetition,
)
from casedesk_intake.domain.replies import Acknowledgement, CitizenCase, CitizenCaseList
from casedesk_intake.domain.requests import EscalationRequest, RatingRequest, RepeatRequest


class CaseAccess:
    """A case by number, for a caller who may see it."""

    def __init__(
        self, cases: CaseService, references: CitizenReferences, codes: AccessCodes
    ) -> None:
        self._cases = cases
        self._references = references
        self._codes = codes

    async def prove(self, caller: Caller, number: str) -> None:
        """A code holder's code for the number (other callers proved themselves already).
        Before anything else of the call, an idempotent replay included."""
        await self._codes.check(caller, number)

    async def open(self, caller: Caller, number: str) -> Case:
        # An operator's read is his, journaled by the case service under his name: it gets his
        # token. A citizen reading his own case (or a code holder) is the data subject himself.
        operator = caller.acting if isinstance(caller.acting, Operator) else None
        case = await self._cases.find_by_number(number, operator.token if operator else "")
        if case is None or not caller.may_see(case):
            raise caller.not_found()
        return case

    def reference_of(self, case: Case) -> str:
        """The case's citizen, the same reference its creation stored attachments under. The
        call under way acts on him: its idempotency record is sealed with his key."""
        acting_on(case.citizen)
        return self._references.of(case.citizen.identity())

    def command(self, key: str, caller: Caller, case: Case) -> Command:
        actor = caller.actor_on(case, self.reference_of(case))
        return Command(key, actor, identified_by=caller.operator)


class FollowUps:
    def __init__(
        self,
        cases: CaseService,
        access: CaseAccess,
        keeper: AttachmentKeeper,
        acknowledgements: Acknowledgements,
    ) -> None:
        self._cases = cases
        self._access = access
        self._keeper = keeper
        self._acknowledgements = acknowledgements

    async def comment(
        self, case: Case, caller: Caller, body: str, files: Sequence[Upload], key: str
    ) -> CitizenCase:
        """A comment on an opened case (by the caller, or by mail from the case's address)."""
        reference = self._access.reference_of(case)
        attachments = await self._keeper.keep(reference, key, files, case.citizen)
        updated = await self._cases.add_comment(
            NewComment(
                command=self._access.command(key, caller, case),
                case_id=case.case_id,
                body=body,
                public=True,
                attachments=attachments,
            )
        )
        return CitizenCase.of(updated)

    async def repeat(self, caller: Caller, repeat: RepeatRequest, key: str) -> Acknowledgement:
        """A new case repeating an answered or overdue one (the case service decides which may
        be), through the channel the request names, with its new files kept like a new case's:
        under the original's citizen."""
        original = await self._access.open(caller, repeat.case_number)
        reference = self._access.reference_of(original)
        attachments = await self._keeper.keep(reference, key, repeat.attachments, original.citizen)
        repeated = await self._cases.repeat_case(
            Repetition(
                command=self._access.command(key, caller, original),
                case_id=original.case_id,
                reason=repeat.reason,
                channel=repeat.channel,
                provenance=repeat.provenance,
                attachments=attachments,
            )
        )
        return self._acknowledgements.of(repeated, repeat_of_number=repeat.case_number)

    async def confirm_answer(self, caller: Caller, number: str, key: str) -> CitizenCase:
        case = await self._access.open(caller, number)
        confirmation = AnswerConfirmation(self._access.command(key, caller, case), case.case_id)
        return CitizenCase.of(await self._cases.confirm_answer(confirmation))

    async def rate_answer(self, caller: Caller, request: RatingRequest, key: str) -> CitizenCase:
        """Rated from the channel of the frontend it came through (Frontend.channel_for)."""
        case = await self._access.open(caller, request.case_number)
        rating = AnswerRating(
            command=self._access.command(key, caller, case),
            case_id=case.case_id,
            score=request.score,
            comment=request.comment,
            channel=caller.frontend.channel_for(case.channel),
        )
        return CitizenCase.of(await self._cases.rate_answer(rating))

    async def request_escalation(
        self, caller: Caller, request: EscalationRequest, key: str
    ) -> CitizenCase:
        case = await self._access.open(caller, request.case_number)
        assert request.reason is not None  # the request's checks allow citizens' reasons only
        updated = await self._cases.request_escalation(
            EscalationPlea(
                command=self._access.command(key, caller, case),
                case_id=case.case_id,
                reason=request.reason,
                explanation=request.explanation,
            )
        )
        return CitizenCase.of(updated)

    async def read(self, caller: Caller, number: str) -> CitizenCase:
        return CitizenCase.of(await self._access.open(caller, number))

    async def list_cases(self, login: str, page_size: int, page_token: str) -> CitizenCaseList:
        page = await self._cases.list_for_citizen(login, page_size, page_token)
        return CitizenCaseList(
            cases=tuple(CitizenCase.of_summary(summary) for summary in page.cases),
            next_page_token=page.next_page_token,
        )
