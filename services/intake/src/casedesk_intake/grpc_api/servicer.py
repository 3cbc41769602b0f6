"""IntakeService over gRPC: take the call the edge admitted, have its proof of the citizen
checked (Identification), decode, make one use-case call, encode, and map refusals to statuses.

What the case service refuses as a precondition of the citizen's command is passed on with its
details, and said in the citizen's terms first (`PRECONDITIONS`): a repeat of a case neither
answered nor overdue, a confirmation of a case not at «Ответ готов», a second rating.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import Message

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.application.identification import Identification
from casedesk_intake.application.intake import Intake
from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.errors import IntakeError
from casedesk_intake.domain.submission_rules import SubmissionRules
from casedesk_intake.grpc_api.access import INTAKE_SERVICE
from casedesk_intake.grpc_api.edge import admitted_call
from casedesk_intake.grpc_api.status import abort_with, status_code_of
from casedesk_intake.wire import replies
from casedesk_intake.wire.follow_ups import FollowUpRequests
from casedesk_intake.wire.submissions import checked_submission
from casedesk_runtime.grpc_server import ServiceBinding
from casedesk_runtime.logs import get_logger
from casedesk_runtime.telemetry import meter
from casedesk_vocabulary.wording import status_label

SERVICE_NAME = INTAKE_SERVICE
PRECONDITIONS = {
    "RepeatCase": "the case cannot be repeated now: a repeat needs an answered case "
    "(ANSWER_READY or CLOSED) or an overdue one",
    "ConfirmAnswer": f"only an answer at ANSWER_READY («{status_label('ANSWER_READY')}») can be "
    "confirmed",
    "RateAnswer": "an answer can be rated once, when its case is at ANSWER_READY or CLOSED",
}

R = TypeVar("R")
M = TypeVar("M", bound=Message)
log = get_logger(__name__)


class EdgeMissing(RuntimeError):
    """A call reached the servicer without the edge's admission: the server is miswired."""


class IntakeServicer(intake_grpc.IntakeServiceServicer):
    """Serves only behind `edge.FrontendEdge`, which authenticates every call."""

    def __init__(
        self,
        intake: Intake,
        identification: Identification,
        submissions: SubmissionRules,
        follow_ups: FollowUpRequests,
    ) -> None:
        self._intake = intake
        self._identification = identification
        self._submissions = submissions
        self._follow_ups = follow_ups
        self._refusals = meter(__name__).create_counter(
            "intake.refusals", description="Calls refused, by RPC and status code"
        )
        self._ignored_mail = meter(__name__).create_counter(
            "intake.mail_ignored", description="Messages answered `ignored`, by reason"
        )

    async def _caller(self, rpc: str) -> Caller:
        admitted = admitted_call()
        if admitted is None:  # fail closed: never serve a call nobody authenticated
            raise EdgeMissing("IntakeService is served without the FrontendEdge interceptor")
        caller = await self._identification.caller(admitted.frontend, admitted.proof)
        if caller.operator:
            # Until the case service's events can record who identified the citizen.
            who = {"operator": caller.operator, "frontend": caller.frontend.name}
            log.info("an operator acts for a citizen", extra={"rpc": rpc, **who})
        return caller

    async def _serve(
        self,
        rpc: str,
        context: grpc.aio.ServicerContext,
        call: Callable[[Caller], Awaitable[R]],
        encode: Callable[[R], M],
    ) -> M:
        try:
            return encode(await call(await self._caller(rpc)))
        except Exception as failure:
            await self._failed(rpc, context, failure)

    async def _failed(
        self, rpc: str, context: grpc.aio.ServicerContext, failure: Exception
    ) -> NoReturn:
        """End the call with the status of `failure` (a refusal, or INTERNAL)."""
        if isinstance(failure, grpc.aio.AbortError):
            raise failure
        if isinstance(failure, IntakeError):
            code = status_code_of(failure)
            self._refusals.add(1, {"rpc": rpc, "code": code.name})
            log.info("call refused", extra={"rpc": rpc, "code": code.name, "reason": str(failure)})
            await abort_with(context, failure, PRECONDITIONS.get(rpc, ""))
        self._refusals.add(1, {"rpc": rpc, "code": "INTERNAL"})
        log.error("call failed", exc_info=failure, extra={"rpc": rpc})
        await abort_with(context, failure)

    async def SubmitCase(
        self, request: intake_pb2.SubmitCaseRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Acknowledgement:
        def call(caller: Caller) -> Awaitable[Any]:
            checked = checked_submission(self._submissions, caller, request)
            return self._intake.submit_case(caller, checked)

        return await self._serve("SubmitCase", context, call, replies.acknowledgement_message)

    async def AddComment(
        self, request: intake_pb2.AddCommentRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        def call(caller: Caller) -> Awaitable[Any]:
            return self._intake.add_comment(caller, self._follow_ups.add_comment(caller, request))

        return await self._serve("AddComment", context, call, replies.citizen_case_message)

    async def RepeatCase(
        self, request: intake_pb2.RepeatCaseRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Acknowledgement:
        def call(caller: Caller) -> Awaitable[Any]:
            return self._intake.repeat_case(caller, self._follow_ups.repeat_case(caller, request))

        return await self._serve("RepeatCase", context, call, replies.acknowledgement_message)

    async def RequestEscalation(
        self, request: intake_pb2.RequestEscalationRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        def call(caller: Caller) -> Awaitable[Any]:
            plea = self._follow_ups.request_escalation(caller, request)
            return self._intake.request_escalation(caller, plea)

        return await self._serve("RequestEscalation", context, call, replies.citizen_case_message)

    async def GetCase(
        self, request: intake_pb2.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        def call(caller: Caller) -> Awaitable[Any]:
            return self._intake.get_case(caller, self._follow_ups.get_case(request))

        return await self._serve("GetCase", context, call, replies.citizen_case_message)

    async def ListMyCases(
        self, request: intake_pb2.ListMyCasesRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCaseList:
        def call(caller: Caller) -> Awaitable[Any]:
            return self._intake.list_my_cases(caller, self._follow_ups.list_my_cases(request))

        return await self._serve("ListMyCases", context, call, replies.citizen_case_list_message)

    async def IngestEmail(
        self, request: intake_pb2.IngestEmailRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.IngestEmailResponse:
        async def call(caller: Caller) -> Any:
            outcome = await self._intake.ingest_email(
                caller, self._follow_ups.ingest_email(caller, request)
            )
            if outcome.ignored is not None:  # a redelivery counts again: messages answered
                self._ignored_mail.add(1, {"reason": outcome.ignored.reason.value})
            return outcome

        return await self._serve("IngestEmail", context, call, replies.mail_outcome_message)

    async def RequestAccessCode(
        self, request: intake_pb2.RequestAccessCodeRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.AccessCodeRequested:
        def call(caller: Caller) -> Awaitable[Any]:
            checked = self._follow_ups.request_access_code(request)
            return self._intake.request_access_code(caller, checked)

        return await self._serve("RequestAccessCode", context, call, replies.code_requested_message)

    async def ConfirmAnswer(
        self, request: intake_pb2.ConfirmAnswerRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        def call(caller: Caller) -> Awaitable[Any]:
            checked = self._follow_ups.confirm_answer(caller, request)
            return self._intake.confirm_answer(caller, checked)

        return await self._serve("ConfirmAnswer", context, call, replies.citizen_case_message)

    async def RateAnswer(
        self, request: intake_pb2.RateAnswerRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        def call(caller: Caller) -> Awaitable[Any]:
            return self._intake.rate_answer(caller, self._follow_ups.rate_answer(caller, request))

        return await self._serve("RateAnswer", context, call, replies.citizen_case_message)

    async def WatchMyCase(
        self, request: intake_pb2.WatchMyCaseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[intake_pb2.CitizenCaseChange]:
        rpc = "WatchMyCase"
        try:
            caller = await self._caller(rpc)
            checked = self._follow_ups.watch_my_case(request)
            changes = await self._intake.watch_my_case(caller, checked)
            async with contextlib.aclosing(changes):
                async for change in changes:
                    yield replies.citizen_case_change_message(change)
        except Exception as failure:
            await self._failed(rpc, context, failure)


def binding(servicer: IntakeServicer) -> ServiceBinding:
    """The (add_to_server, servicer, name) triple the runtime's GrpcServer takes."""
    return (intake_grpc.add_IntakeServiceServicer_to_server, servicer, SERVICE_NAME)
