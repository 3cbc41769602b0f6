"""IntakeService over gRPC: identify the caller, make one use-case call, map refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc

from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_intake.errors import IntakeError, Unauthenticated
from casedesk_intake.frontends import Caller, FrontendRegistry
from casedesk_intake.grpc_status import abort_with, status_code_of
from casedesk_intake.intake import Intake
from casedesk_intake.validation.fields import has_control_characters
from casedesk_runtime.logs import get_logger
from casedesk_runtime.telemetry import meter

SERVICE_NAME = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name
CITIZEN_LOGIN_KEY = "x-citizen-login"
_MAX_LOGIN = 128

Req = TypeVar("Req")
Rep = TypeVar("Rep")
log = get_logger(__name__)


def identify(frontends: FrontendRegistry, metadata: Sequence[tuple[str, object]]) -> Caller:
    headers = {key: value for key, value in metadata if isinstance(value, str)}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send metadata authorization: Bearer <frontend token>")
    frontend = frontends.identify(token.strip())
    login = headers.get(CITIZEN_LOGIN_KEY, "").strip()
    if len(login) > _MAX_LOGIN or has_control_characters(login):
        raise Unauthenticated(f"{CITIZEN_LOGIN_KEY} is malformed")
    return Caller(frontend, login)


class IntakeServicer(intake_grpc.IntakeServiceServicer):
    def __init__(self, intake: Intake, frontends: FrontendRegistry) -> None:
        self._intake = intake
        self._frontends = frontends
        self._refusals = meter(__name__).create_counter(
            "intake.refusals", description="Calls refused, by RPC and status code"
        )

    async def _serve(
        self,
        rpc: str,
        use_case: Callable[[Caller, Req], Awaitable[Rep]],
        request: Req,
        context: grpc.aio.ServicerContext,
    ) -> Rep:
        try:
            caller = identify(self._frontends, context.invocation_metadata() or ())
            return await use_case(caller, request)
        except IntakeError as refusal:
            code = status_code_of(refusal)
            self._refusals.add(1, {"rpc": rpc, "code": code.name})
            log.info("call refused", extra={"rpc": rpc, "code": code.name, "reason": str(refusal)})
            await abort_with(context, refusal)
        except Exception as failure:
            if isinstance(failure, grpc.aio.AbortError):
                raise
            self._refusals.add(1, {"rpc": rpc, "code": "INTERNAL"})
            log.exception("call failed", extra={"rpc": rpc})
            await abort_with(context, failure)

    async def SubmitCase(
        self, request: intake_pb2.SubmitCaseRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Acknowledgement:
        return await self._serve("SubmitCase", self._intake.submit_case, request, context)

    async def AddComment(
        self, request: intake_pb2.AddCommentRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        return await self._serve("AddComment", self._intake.add_comment, request, context)

    async def RepeatCase(
        self, request: intake_pb2.RepeatCaseRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.Acknowledgement:
        return await self._serve("RepeatCase", self._intake.repeat_case, request, context)

    async def RequestEscalation(
        self, request: intake_pb2.RequestEscalationRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        return await self._serve(
            "RequestEscalation", self._intake.request_escalation, request, context
        )

    async def GetCase(
        self, request: intake_pb2.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCase:
        return await self._serve("GetCase", self._intake.get_case, request, context)

    async def ListMyCases(
        self, request: intake_pb2.ListMyCasesRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.CitizenCaseList:
        return await self._serve("ListMyCases", self._intake.list_my_cases, request, context)

    async def IngestEmail(
        self, request: intake_pb2.IngestEmailRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.IngestEmailResponse:
        return await self._serve("IngestEmail", self._intake.ingest_email, request, context)


def binding(servicer: IntakeServicer) -> tuple[object, IntakeServicer, str]:
    """The (add_to_server, servicer, name) triple the runtime's GrpcServer takes."""
    return (intake_grpc.add_IntakeServiceServicer_to_server, servicer, SERVICE_NAME)
