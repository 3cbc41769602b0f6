"""The case service over gRPC (mutual TLS as `desk`), acting for the person whose access token
travels as `x-person-token`; each read says why in `x-access-purpose` (for the access journal)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import grpc

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_desk.application.ports import (
    CaseChange,
    CaseDetails,
    HistoryItem,
    QueueChange,
    QueuePage,
    QueueQuery,
    Timeline,
)
from casedesk_desk.application.work import PURPOSE_QUEUE
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.overview import Overview
from casedesk_desk.wire import cases as wire
from casedesk_desk.wire import timeline as timeline_wire

PERSON_TOKEN = "x-person-token"
ACCESS_PURPOSE = "x-access-purpose"
# Pages of history read for one case page; a case with more events than this shows the first.
MAX_HISTORY_PAGES = 10


class CaseService:
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float) -> None:
        self._stub = case_service_pb2_grpc.CaseServiceStub(channel)
        self._timeout_s = timeout_s

    def _metadata(self, token: str, purpose: str | None = None) -> list[tuple[str, str]]:
        metadata = [(PERSON_TOKEN, token)]
        if purpose:
            metadata.append((ACCESS_PURPOSE, quote(purpose, safe="")))
        return metadata

    async def list_cases(self, token: str, query: QueueQuery) -> QueuePage:
        request = pb.ListCasesRequest(
            queue=query.queue,
            assignee=query.assignee,
            unassigned=query.unassigned,
            open_only=query.open_only,
            callback_owed=query.callback_owed,
            order=pb.CASE_ORDER_DEADLINE if query.by_deadline else pb.CASE_ORDER_UNSPECIFIED,
            page_size=query.page_size,
            page_token=query.page_token,
        )
        try:
            if query.status:
                request.status = types_pb2.Status.Value(query.status)
            if query.channel:
                request.channel = types_pb2.Channel.Value(query.channel)
            if query.category:
                request.category = types_pb2.Category.Value(query.category)
            if query.tier:
                request.tier = types_pb2.Tier.Value(query.tier)
            if query.citizen is not None:
                request.citizen.CopyFrom(wire.citizen_lookup(query.citizen))
        except ValueError:
            raise Refused(RefusalKind.INVALID, "Неизвестное значение фильтра.") from None
        try:
            found = await self._stub.ListCases(
                request,
                metadata=self._metadata(token, query.purpose or PURPOSE_QUEUE),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        return QueuePage([wire.row(s) for s in found.cases], found.next_page_token)

    async def get_case(self, token: str, case_id: str, purpose: str) -> CaseDetails:
        try:
            view = await self._stub.GetCase(
                pb.GetCaseRequest(case_id=case_id),
                metadata=self._metadata(token, purpose),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        return wire.details(view)

    async def find_case(self, token: str, number: str, purpose: str) -> CaseDetails:
        try:
            view = await self._stub.GetCase(
                pb.GetCaseRequest(number=number),
                metadata=self._metadata(token, purpose),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        return wire.details(view)

    async def history(self, token: str, case_id: str, purpose: str) -> list[HistoryItem]:
        items: list[HistoryItem] = []
        after = 0
        for _ in range(MAX_HISTORY_PAGES):
            try:
                page = await self._stub.GetHistory(
                    pb.GetHistoryRequest(case_id=case_id, after_version=after),
                    metadata=self._metadata(token, purpose),
                    timeout=self._timeout_s,
                )
            except grpc.aio.AioRpcError as error:
                raise wire.refused(error) from None
            items.extend(wire.history_item(event) for event in page.events)
            if not page.next_after_version:
                break
            after = page.next_after_version
        return items

    async def timeline(self, token: str, case_id: str, purpose: str) -> Timeline:
        try:
            found = await self._stub.GetCaseTimeline(
                pb.GetCaseTimelineRequest(case_id=case_id),
                metadata=self._metadata(token, purpose),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        return timeline_wire.timeline(found)

    async def overview(self, token: str, days: int) -> Overview:
        try:
            found = await self._stub.GetDeskOverview(
                pb.GetDeskOverviewRequest(days=days),
                metadata=self._metadata(token),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        return timeline_wire.overview(found)

    async def comment(self, token: str, case_id: str, body: str, public: bool) -> None:
        await self._command(
            "AddComment",
            pb.AddCommentRequest(context=_context(), case_id=case_id, body=body, public=public),
            token,
        )

    async def change_status(self, token: str, case_id: str, action: str, reason: str) -> None:
        request = pb.ChangeStatusRequest(
            context=_context(),
            case_id=case_id,
            action=wire.STATUS_ACTIONS[action],
            reason=reason,
        )
        await self._command("ChangeStatus", request, token)

    async def escalate(self, token: str, case_id: str, to_tier: str, reason: str) -> None:
        try:
            tier = types_pb2.Tier.Value(to_tier)
            why = events_pb2.EscalationReason.Value(reason)
        except ValueError:
            raise Refused(RefusalKind.INVALID, "Выберите линию и причину эскалации.") from None
        request = pb.EscalateRequest(context=_context(), case_id=case_id, to_tier=tier, reason=why)
        await self._command("Escalate", request, token)

    async def assign(self, token: str, case_id: str, specialist_id: str) -> None:
        request = pb.AssignRequest(context=_context(), case_id=case_id, specialist_id=specialist_id)
        await self._command("Assign", request, token)

    async def record_callback(self, token: str, case_id: str, reached: bool, note: str) -> None:
        request = pb.RecordCallbackRequest(
            context=_context(), case_id=case_id, reached=reached, note=note
        )
        await self._command("RecordCallback", request, token)

    async def close_case(self, token: str, case_id: str, reason: str, explanation: str) -> None:
        try:
            why = events_pb2.CloseReason.Value(reason)
        except ValueError:
            raise Refused(RefusalKind.INVALID, "Неизвестная причина закрытия.") from None
        request = pb.CloseCaseRequest(
            context=_context(), case_id=case_id, reason=why, explanation=explanation
        )
        await self._command("CloseCase", request, token)

    async def merge_cases(
        self, token: str, duplicate_case_id: str, target_case_id: str, reason: str
    ) -> None:
        request = pb.MergeCasesRequest(
            context=_context(),
            duplicate_case_id=duplicate_case_id,
            target_case_id=target_case_id,
            reason=reason,
        )
        await self._command("MergeCases", request, token)

    async def watch(
        self, token: str, case_id: str, after_version: int, purpose: str
    ) -> AsyncIterator[CaseChange]:
        # No deadline: the stream lasts while the page is open; the case service ends it when
        # the token expires, and the caller cancels it when the page or the session goes.
        call = self._stub.WatchCase(
            pb.WatchCaseRequest(case_id=case_id, after_version=after_version),
            metadata=self._metadata(token, purpose),
        )
        try:
            async for event in call:
                yield wire.change(event)
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        finally:
            call.cancel()

    async def watch_queue(self, token: str, after_position: str) -> AsyncIterator[QueueChange]:
        # No deadline, as for WatchCase.
        call = self._stub.WatchQueue(
            pb.WatchQueueRequest(after_position=after_position),
            metadata=self._metadata(token, PURPOSE_QUEUE),
        )
        try:
            async for change in call:
                yield QueueChange(change.position, wire.row(change.summary), change.event_type)
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None
        finally:
            call.cancel()

    async def _command(self, rpc: str, request: object, token: str) -> None:
        try:
            await getattr(self._stub, rpc)(
                request, metadata=self._metadata(token), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise wire.refused(error) from None


def _context() -> pb.CommandContext:
    # One key per submitted form; the actor is left empty: the case service takes the person
    # from the token.
    return pb.CommandContext(idempotency_key=str(uuid.uuid4()))
