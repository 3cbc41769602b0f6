"""A stand-in CaseService: an in-memory servicer with the contract's behaviour intake relies on.

Commands are idempotent by CommandContext.idempotency_key (a retry returns the stored view; the
same key with another command is INVALID_ARGUMENT naming context.idempotency_key, as the real
case service answers), numbers look like the real ones, and only an answered case can be
repeated. Every received command is kept for assertions.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import grpc
from google.protobuf.message import Message

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.common.v1 import types_pb2
from casedesk_runtime.events import to_timestamp
from casedesk_runtime.grpc_errors import STATUS_DETAILS_KEY, bad_request_status

_REPEATABLE = (types_pb2.ANSWER_READY, types_pb2.CLOSED)


def _key_reused() -> grpc.Status:
    """The real case service's answer to a key reused with another command."""
    return bad_request_status(
        [("context.idempotency_key", "was already used for a different command")]
    )


class CaseServiceStandIn(case_grpc.CaseServiceServicer):
    def __init__(self) -> None:
        self.cases: dict[str, case_pb2.CaseView] = {}
        self.commands: list[Message] = []
        self._by_key: dict[str, tuple[bytes, str]] = {}
        self._serials = itertools.count(1)
        self.unavailable_next = 0
        self.create_batches: list[int] = []  # the size of every CreateCases call
        self.batching = True  # False: CreateCases is UNIMPLEMENTED, like an older case service

    # -- helpers for tests ------------------------------------------------------------------

    def by_number(self, number: str) -> case_pb2.CaseView:
        return next(c for c in self.cases.values() if c.number == number)

    def set_status(self, number: str, status: int) -> None:
        self.by_number(number).status = status

    def reply_as_specialist(self, number: str, body: str, public: bool = True) -> None:
        case = self.by_number(number)
        case.comments.add(
            comment_id=str(uuid.uuid4()),
            body=body,
            public=public,
            author=types_pb2.Actor(kind=types_pb2.Actor.SPECIALIST, id="l1-001"),
            at=to_timestamp(datetime.now(UTC)),
        )

    def of_type(self, kind: type[Message]) -> list[Message]:
        return [c for c in self.commands if isinstance(c, kind)]

    # -- the contract -----------------------------------------------------------------------

    async def _unavailable_now(self, context) -> None:  # type: ignore[no-untyped-def]
        if self.unavailable_next:
            self.unavailable_next -= 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "stand-in is briefly unavailable")

    def _earlier(self, request: Message) -> tuple[bytes, case_pb2.CaseView | None]:
        """The request's payload (its command, not its trace) and the case an earlier command
        under its key returned; raises KeyError for a key reused with another command."""
        self.commands.append(request)
        command = type(request)()
        command.CopyFrom(request)
        command.context.ClearField("traceparent")  # type: ignore[attr-defined]
        payload = command.SerializeToString(deterministic=True)
        key = request.context.idempotency_key  # type: ignore[attr-defined]
        if key not in self._by_key:
            return payload, None
        stored_payload, case_id = self._by_key[key]
        if stored_payload != payload:
            raise KeyError(key)
        return payload, self.cases[case_id]

    def _done(self, request: Message, payload: bytes, case: case_pb2.CaseView) -> None:
        self._by_key[request.context.idempotency_key] = (payload, case.case_id)  # type: ignore[attr-defined]
        case.version += 1
        case.updated_at.CopyFrom(to_timestamp(datetime.now(UTC)))

    async def _once(self, request, context, apply):  # type: ignore[no-untyped-def]
        await self._unavailable_now(context)
        try:
            payload, earlier = self._earlier(request)
        except KeyError:
            await context.abort_with_status(_key_reused())
        if earlier is not None:
            return earlier
        case = await apply()
        self._done(request, payload, case)
        return case

    def _new_case(self, request: case_pb2.CreateCaseRequest) -> case_pb2.CaseView:
        number = f"{datetime.now(UTC).year}-{next(self._serials):07d}"
        case = case_pb2.CaseView(
            case_id=str(uuid.uuid5(uuid.NAMESPACE_URL, number)),
            number=number,
            status=types_pb2.REGISTERED,
            channel=request.channel,
            type=request.type,
            category=request.category,
            queue=request.queue or "l1-general",
            tier=types_pb2.L1,
            citizen=request.citizen,
            content=request.content,
            provenance=request.provenance,
            attachments=request.attachments,
            linked_to=request.linked_to,
            registered_at=to_timestamp(datetime.now(UTC)),
        )
        self.cases[case.case_id] = case
        return case

    async def _existing(self, case_id: str, context) -> case_pb2.CaseView:  # type: ignore[no-untyped-def]
        if case_id not in self.cases:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"case {case_id} not found")
        return self.cases[case_id]

    async def CreateCase(self, request, context):  # type: ignore[no-untyped-def]
        async def create() -> case_pb2.CaseView:
            return self._new_case(request)

        return await self._once(request, context, create)

    async def CreateCases(self, request, context):  # type: ignore[no-untyped-def]
        if not self.batching:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        await self._unavailable_now(context)
        self.create_batches.append(len(request.cases))
        results = []
        for item in request.cases:
            try:
                payload, case = self._earlier(item)
            except KeyError:
                status = _key_reused()
                details = dict(status.trailing_metadata or ()).get(STATUS_DETAILS_KEY, b"")
                refusal = case_pb2.CommandRefusal(
                    code=status.code.value[0], message=status.details, status_details=details
                )
                results.append(case_pb2.CreateCaseResult(refusal=refusal))
                continue
            if case is None:
                case = self._new_case(item)
                self._done(item, payload, case)
            results.append(case_pb2.CreateCaseResult(created=case))
        return case_pb2.CreateCasesResponse(results=results)

    async def AddComment(self, request, context):  # type: ignore[no-untyped-def]
        async def comment() -> case_pb2.CaseView:
            case = await self._existing(request.case_id, context)
            case.comments.add(
                comment_id=str(uuid.uuid4()),
                body=request.body,
                public=request.public,
                author=request.context.actor,
                at=to_timestamp(datetime.now(UTC)),
            )
            case.attachments.extend(request.attachments)
            return case

        return await self._once(request, context, comment)

    async def RepeatCase(self, request, context):  # type: ignore[no-untyped-def]
        async def repeat() -> case_pb2.CaseView:
            original = await self._existing(request.case_id, context)
            if original.status not in _REPEATABLE:
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION, "only an answered case can be repeated"
                )
            create = case_pb2.CreateCaseRequest(
                channel=original.channel,
                type=original.type,
                category=original.category,
                citizen=original.citizen,
                content=original.content,
                provenance=original.provenance,
            )
            new = self._new_case(create)
            new.repeat_of = original.case_id
            original.repeated_by.append(new.case_id)
            return new

        return await self._once(request, context, repeat)

    async def RequestEscalation(self, request, context):  # type: ignore[no-untyped-def]
        async def escalate() -> case_pb2.CaseView:
            return await self._existing(request.case_id, context)

        return await self._once(request, context, escalate)

    async def GetCase(self, request, context):  # type: ignore[no-untyped-def]
        for case in self.cases.values():
            if request.number and case.number == request.number:
                return case
            if request.case_id and case.case_id == request.case_id:
                return case
        await context.abort(grpc.StatusCode.NOT_FOUND, "case not found")

    async def ListCases(self, request, context):  # type: ignore[no-untyped-def]
        mine = [c for c in self.cases.values() if c.citizen.account_login == request.citizen_login]
        # isdigit alone takes "²" and other digits int() refuses
        token = request.page_token
        if token and not (token.isascii() and token.isdigit()):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not ours")
        start = int(request.page_token or 0)
        page = mine[start : start + (request.page_size or 50)]
        following = start + len(page)
        return case_pb2.CaseList(
            cases=[
                case_pb2.CaseSummary(
                    case_id=c.case_id,
                    number=c.number,
                    status=c.status,
                    channel=c.channel,
                    subject=c.content.subject,
                    registered_at=c.registered_at,
                    updated_at=c.updated_at,
                )
                for c in page
            ],
            next_page_token=str(following) if following < len(mine) else "",
        )
