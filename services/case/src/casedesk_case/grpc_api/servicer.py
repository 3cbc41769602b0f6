"""casedesk.case.v1.CaseService: decode, make one application call (in a worker thread), encode.

Every call first works out who acts (people.py): the service that called, or the person whose
token the desk sent. The commands are here, the reads in reads.py and desk_reads.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk_case.adapters.queue_feed import CaseQueueFeed
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application import CaseApplication, CommandMeta
from casedesk_case.application.desk_reads import DeskReads
from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.application.timeline import CaseTimeline
from casedesk_case.application.views import CaseView
from casedesk_case.domain.closing import MAX_STAFF_TEXT
from casedesk_case.domain.values import EscalationReason
from casedesk_case.grpc_api import requests
from casedesk_case.grpc_api.checks import RequestCheck
from casedesk_case.grpc_api.desk_reads import DEFAULT_MAX_QUEUE_STREAMS, DeskReadRpcs
from casedesk_case.grpc_api.errors import REFUSALS, refusal_status, rpc
from casedesk_case.grpc_api.people import Acting, People
from casedesk_case.grpc_api.stream_limits import OpenStreams, WatchCaseLimits
from casedesk_case.wire.enums import from_proto
from casedesk_case.wire.personal import ERASED, ReplyOpener
from casedesk_case.wire.values import case_view_to_proto
from casedesk_runtime.grpc_errors import STATUS_DETAILS_KEY

# Only the W3C traceparent is kept with the events: the other configured propagators (baggage)
# would only cost time.
_TRACE_CONTEXT = TraceContextTextMapPropagator()
MAX_BATCH = 256


class CaseServicer(DeskReadRpcs, case_service_pb2_grpc.CaseServiceServicer):
    def __init__(
        self,
        app: CaseApplication,
        executor: Executor,
        feed: CaseEventFeed,
        pipeline: CommandPipeline | None = None,
        people: People | None = None,
        *,
        case_timeline: CaseTimeline | None = None,
        max_queue_streams: int = DEFAULT_MAX_QUEUE_STREAMS,
        watch_case: WatchCaseLimits | None = None,
        opener: ReplyOpener | None = None,
    ) -> None:
        """`case_timeline`: the SLA clocks and notices (application/timeline.py) GetCaseTimeline
        and GetDeskOverview answer from; None: both are UNIMPLEMENTED. `max_queue_streams`:
        WatchQueue streams served at once; `watch_case`: WatchCase's bounds (None: the defaults);
        `opener`: opens sealed personal fields in replies (None: sealing off)."""
        self._opener = opener
        self._app = app
        self._executor = executor
        self._feed = feed
        self._pipeline = pipeline
        self._people = people or People(None)
        self._queue_feed = CaseQueueFeed(app)
        self._desk_reads = (
            None
            if case_timeline is None
            else DeskReads(app.person_reads, app.index, app.roster, case_timeline)
        )
        self._queue_streams = OpenStreams("WatchQueue", "queue streams", max_queue_streams)
        self._watch_case = watch_case or WatchCaseLimits()
        self._case_streams = OpenStreams("WatchCase", "case streams", self._watch_case.max_streams)

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
            view = await self._call(method, *args, meta=meta, **kwargs)
        else:
            view = await self._pipeline.run(method, *args, meta=meta, **kwargs)
        # The command is stored: an erased citizen's texts are shown as erased, not refused.
        return await self._opened(case_view_to_proto(view), erased=ERASED)

    @staticmethod
    def _meta(check: RequestCheck, context: pb.CommandContext, acting: Acting) -> CommandMeta:
        trace_parent = context.traceparent
        if not trace_parent:
            carrier: dict[str, str] = {}
            _TRACE_CONTEXT.inject(carrier)  # the trace of this call, to be kept with the events
            trace_parent = carrier.get("traceparent", "")
        return requests.command_meta(check, context, str(uuid.uuid4()), trace_parent, acting)

    async def _on_case(self, request: Any, context: Any) -> tuple[RequestCheck, CommandMeta]:
        """What every command on one case starts with: who acts (a person's token verified),
        then the request's context and case id checked; the command's own fields follow."""
        acting = await self._people.acting(context)
        check = RequestCheck()
        meta = self._meta(check, request.context, acting)
        check.case_id(request.case_id)
        return check, meta

    # -- commands -----------------------------------------------------------------------------

    @rpc
    async def CreateCase(self, request: pb.CreateCaseRequest, context: Any) -> pb.CaseView:
        return await self._create(request, await self._people.acting(context))

    async def _create(self, request: pb.CreateCaseRequest, acting: Acting) -> pb.CaseView:
        check = RequestCheck()
        meta = self._meta(check, request.context, acting)
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
        acting = await self._people.acting(context)
        # Started together, the creates reach the command pipeline in one loop turn and are
        # decided and stored as one batch.
        results = await asyncio.gather(*(self._create_one(item, acting) for item in request.cases))
        return pb.CreateCasesResponse(results=results)

    async def _create_one(
        self, request: pb.CreateCaseRequest, acting: Acting
    ) -> pb.CreateCaseResult:
        try:
            return pb.CreateCaseResult(created=await self._create(request, acting))
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
        check, meta = await self._on_case(request, context)
        check.require(bool(request.body.strip()), "body", "a comment needs text")
        attachments = requests.attachments(check, request.attachments, "attachments")
        return await self._command(
            check, self._app.add_comment, meta, request.case_id,
            body=request.body, public=request.public, attachments=attachments,
        )  # fmt: skip

    @rpc
    async def ChangeStatus(self, request: pb.ChangeStatusRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
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
        check, meta = await self._on_case(request, context)
        arguments = requests.repeat_arguments(check, request)
        check.done()
        # Not through the pipeline: a repeat changes the original case under its lock.
        view = await self._call(self._app.repeat_case, request.case_id, reason=request.reason,
                                meta=meta, **arguments)  # fmt: skip
        return await self._opened(case_view_to_proto(view), erased=ERASED)

    @rpc
    async def RequestEscalation(
        self, request: pb.RequestEscalationRequest, context: Any
    ) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        reason = check.decode(
            lambda: from_proto(EscalationReason, request.reason, "reason", required=False)
        )
        return await self._command(
            check, self._app.request_escalation, meta, request.case_id,
            reason=reason, explanation=request.explanation,
        )  # fmt: skip

    @rpc
    async def Escalate(self, request: pb.EscalateRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        arguments = requests.escalate_arguments(check, request)
        return await self._command(check, self._app.escalate, meta, request.case_id, **arguments)

    @rpc
    async def Assign(self, request: pb.AssignRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        return await self._command(
            check, self._app.assign, meta, request.case_id, specialist_id=request.specialist_id
        )

    @rpc
    async def AddAttachment(self, request: pb.AddAttachmentRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        check.require(request.HasField("attachment"), "attachment", "is required")
        attachment = requests.attachment(check, request.attachment, "attachment")
        return await self._command(
            check, self._app.add_attachment, meta, request.case_id, attachment=attachment
        )

    # -- the end of a case and its follow-up (application/closing.py) --------------------------

    @rpc
    async def ConfirmAnswer(self, request: pb.ConfirmAnswerRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        return await self._command(check, self._app.confirm_answer, meta, request.case_id)

    @rpc
    async def RateAnswer(self, request: pb.RateAnswerRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        arguments = requests.rating_arguments(check, request)
        return await self._command(check, self._app.rate_answer, meta, request.case_id, **arguments)

    @rpc
    async def CloseCase(self, request: pb.CloseCaseRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        arguments = requests.close_arguments(check, request)
        return await self._command(check, self._app.close_case, meta, request.case_id, **arguments)

    @rpc
    async def MergeCases(self, request: pb.MergeCasesRequest, context: Any) -> pb.CaseView:
        acting = await self._people.acting(context)
        check = RequestCheck()
        meta = self._meta(check, request.context, acting)
        requests.merge_checks(check, request)
        return await self._command(
            check, self._app.merge_cases, meta, request.duplicate_case_id,
            target_case_id=request.target_case_id, reason=request.reason,
        )  # fmt: skip

    @rpc
    async def RecordCallback(self, request: pb.RecordCallbackRequest, context: Any) -> pb.CaseView:
        check, meta = await self._on_case(request, context)
        requests.text_limit(check, request.note, "note", MAX_STAFF_TEXT)
        return await self._command(
            check, self._app.record_callback, meta, request.case_id,
            reached=request.reached, note=request.note,
        )  # fmt: skip
