"""casedesk.case.v1.CaseService: decode, make one application call (in a worker thread), encode."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application import CaseApplication, CommandMeta
from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.application.views import CaseFilter, CaseView
from casedesk_case.domain.errors import CaseError
from casedesk_case.domain.values import Channel, EscalationReason, Status
from casedesk_case.grpc_api import requests
from casedesk_case.grpc_api.checks import RequestCheck
from casedesk_case.grpc_api.errors import REFUSALS, abort_for, refusal_status, rpc
from casedesk_case.wire.enums import from_proto
from casedesk_case.wire.events import to_case_event
from casedesk_case.wire.values import case_view_to_proto, summary_to_proto
from casedesk_runtime.events import from_timestamp
from casedesk_runtime.grpc_errors import STATUS_DETAILS_KEY

T = TypeVar("T")
# Only the W3C traceparent is kept with the events: the other configured propagators (baggage)
# would only cost time.
_TRACE_CONTEXT = TraceContextTextMapPropagator()
MAX_BATCH = 256


class CaseServicer(case_service_pb2_grpc.CaseServiceServicer):
    def __init__(
        self,
        app: CaseApplication,
        executor: Executor,
        feed: CaseEventFeed,
        pipeline: CommandPipeline | None = None,
    ) -> None:
        self._app = app
        self._executor = executor
        self._feed = feed
        self._pipeline = pipeline

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    async def _command(
        self,
        check: RequestCheck,
        method: Callable[..., CaseView],
        meta: CommandMeta,
        *args: Any,
        **kwargs: Any,
    ) -> pb.CaseView:
        check.done()
        if self._pipeline is None:
            return case_view_to_proto(await self._call(method, *args, meta=meta, **kwargs))
        return case_view_to_proto(await self._pipeline.run(method, *args, meta=meta, **kwargs))

    @staticmethod
    def _meta(check: RequestCheck, context: pb.CommandContext) -> CommandMeta:
        trace_parent = context.traceparent
        if not trace_parent:
            carrier: dict[str, str] = {}
            _TRACE_CONTEXT.inject(carrier)  # the trace of this call, to be kept with the events
            trace_parent = carrier.get("traceparent", "")
        return requests.command_meta(check, context, str(uuid.uuid4()), trace_parent)

    # -- commands -----------------------------------------------------------------------------

    @rpc
    async def CreateCase(self, request: pb.CreateCaseRequest, context: Any) -> pb.CaseView:
        return await self._create(request)

    async def _create(self, request: pb.CreateCaseRequest) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        arguments = requests.create_arguments(check, request)
        return await self._command(check, self._app.create_case, meta, **arguments)

    @rpc
    async def CreateCases(
        self, request: pb.CreateCasesRequest, context: Any
    ) -> pb.CreateCasesResponse:
        check = RequestCheck()
        check.require(
            1 <= len(request.cases) <= MAX_BATCH, "cases", f"must hold 1 to {MAX_BATCH} cases"
        )
        check.done()
        # Started together, the creates reach the command pipeline in one loop turn and are
        # decided and stored as one batch.
        results = await asyncio.gather(*(self._create_one(item) for item in request.cases))
        return pb.CreateCasesResponse(results=results)

    async def _create_one(self, request: pb.CreateCaseRequest) -> pb.CreateCaseResult:
        try:
            return pb.CreateCaseResult(created=await self._create(request))
        except REFUSALS as error:
            status = refusal_status(error)
            assert status is not None  # every REFUSALS kind has its status
            details = dict(status.trailing_metadata or ()).get(STATUS_DETAILS_KEY, b"")
            refusal = pb.CommandRefusal(
                code=status.code.value[0], message=status.details, status_details=details
            )
            return pb.CreateCaseResult(refusal=refusal)

    @rpc
    async def AddComment(self, request: pb.AddCommentRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        check.require(bool(request.body.strip()), "body", "a comment needs text")
        attachments = requests.attachments(check, request.attachments, "attachments")
        return await self._command(
            check, self._app.add_comment, meta, request.case_id,
            body=request.body, public=request.public, attachments=attachments,
        )  # fmt: skip

    @rpc
    async def ChangeStatus(self, request: pb.ChangeStatusRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        target = requests.status_target(check, request.action)
        return await self._command(
            check,
            self._app.change_status,
            meta,
            request.case_id,
            to_status=target,
            reason=request.reason,
        )

    @rpc
    async def RepeatCase(self, request: pb.RepeatCaseRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        check.done()
        # Not through the pipeline: a repeat changes the original case under its lock.
        view = await self._call(self._app.repeat_case, request.case_id, reason=request.reason,
                                meta=meta)  # fmt: skip
        return case_view_to_proto(view)

    @rpc
    async def RequestEscalation(
        self, request: pb.RequestEscalationRequest, context: Any
    ) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        reason = check.decode(
            lambda: from_proto(EscalationReason, request.reason, "reason", required=False)
        )
        return await self._command(
            check, self._app.request_escalation, meta, request.case_id,
            reason=reason, explanation=request.explanation,
        )  # fmt: skip

    @rpc
    async def Escalate(self, request: pb.EscalateRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        arguments = requests.escalate_arguments(check, request)
        return await self._command(check, self._app.escalate, meta, request.case_id, **arguments)

    @rpc
    async def Assign(self, request: pb.AssignRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        return await self._command(
            check, self._app.assign, meta, request.case_id, specialist_id=request.specialist_id
        )

    @rpc
    async def AddAttachment(self, request: pb.AddAttachmentRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context)
        check.case_id(request.case_id)
        check.require(request.HasField("attachment"), "attachment", "is required")
        attachment = requests.attachment(check, request.attachment, "attachment")
        return await self._command(
            check, self._app.add_attachment, meta, request.case_id, attachment=attachment
        )

    # -- queries ------------------------------------------------------------------------------

    @rpc
    async def GetCase(self, request: pb.GetCaseRequest, context: Any) -> pb.CaseView:
        check = RequestCheck()
        key = request.WhichOneof("key")
        check.require(key is not None, "case_id", "give a case_id or a number")
        if key == "case_id":
            check.case_id(request.case_id)
        has_time = request.HasField("as_of_time")
        check.require(request.as_of_version >= 0, "as_of_version", "must not be negative")
        check.require(
            not (has_time and request.as_of_version),
            "as_of_time",
            "give either as_of_version or as_of_time",
        )
        check.done()
        as_of = {
            "as_of_version": request.as_of_version or None,
            "as_of_time": from_timestamp(request.as_of_time) if has_time else None,
        }
        if key == "number":
            view = await self._call(self._app.get_case_by_number, request.number, **as_of)
        else:
            view = await self._call(self._app.get_case, request.case_id, **as_of)
        return case_view_to_proto(view)

    @rpc
    async def GetHistory(self, request: pb.GetHistoryRequest, context: Any) -> pb.HistoryPage:
        check = RequestCheck()
        check.case_id(request.case_id)
        check.require(request.after_version >= 0, "after_version", "must not be negative")
        check.require(request.page_size >= 0, "page_size", "must not be negative")
        check.done()
        page = await self._call(
            self._app.history,
            request.case_id,
            after_version=request.after_version,
            page_size=request.page_size,
        )
        return pb.HistoryPage(
            events=[to_case_event(e) for e in page.events],
            next_after_version=page.next_after_version,
        )

    @rpc
    async def ListCases(self, request: pb.ListCasesRequest, context: Any) -> pb.CaseList:
        check = RequestCheck()
        status = check.decode(lambda: from_proto(Status, request.status, "status", required=False))
        channel = check.decode(
            lambda: from_proto(Channel, request.channel, "channel", required=False)
        )
        check.require(request.page_size >= 0, "page_size", "must not be negative")
        check.done()
        criteria = CaseFilter(
            citizen_login=request.citizen_login, status=status, queue=request.queue,
            assignee=request.assignee, channel=channel,
        )  # fmt: skip
        page = await self._call(
            self._app.list_cases,
            criteria,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.CaseList(
            cases=[summary_to_proto(s) for s in page.cases], next_page_token=page.next_page_token
        )

    async def WatchCase(
        self, request: pb.WatchCaseRequest, context: Any
    ) -> AsyncIterator[events_pb2.CaseEvent]:
        try:
            check = RequestCheck()
            check.case_id(request.case_id)
            check.require(request.after_version >= 0, "after_version", "must not be negative")
            check.done()
            await self._call(self._app.get_case, request.case_id)  # NOT_FOUND before streaming
        except CaseError as error:
            await abort_for(error, context)
        except Exception as error:
            await abort_for(error, context)
        last = request.after_version
        async with self._feed.watch(request.case_id) as signal:
            while True:
                await signal.wait()
                signal.clear()
                for event in await self._call(self._app.events_after, request.case_id, last):
                    yield to_case_event(event)
                    last = event.originator_version
