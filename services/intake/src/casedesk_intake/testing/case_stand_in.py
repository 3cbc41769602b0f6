"""A stand-in CaseService: an in-memory servicer with the contract's behaviour intake relies on.

Commands are idempotent by CommandContext.idempotency_key (a retry returns the stored view; the
same key with another command is INVALID_ARGUMENT naming context.idempotency_key, as the real
case service answers), numbers look like the real ones, only an answered or overdue case can be
repeated, only a case at ANSWER_READY confirmed, and an answered case rated once. Every change
is recorded as a case event with the case's next version, so GetCase reads any earlier version
(`as_of_version`) and WatchCase streams the events after a version, then each new one, as the
real service does; a test may end the open streams cleanly (`end_watches`), as the real one does
when they are quiet or old. Every received command is kept for assertions, and the metadata
every WatchCase call came with.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_runtime.events import to_timestamp
from casedesk_runtime.grpc_errors import STATUS_DETAILS_KEY, bad_request_status

_ANSWERED = (types_pb2.ANSWER_READY, types_pb2.CLOSED)
_SPECIALIST = types_pb2.Actor(kind=types_pb2.Actor.SPECIALIST, id="l1-001")


def _key_reused() -> grpc.Status:
    """The real case service's answer to a key reused with another command."""
    return bad_request_status(
        [("context.idempotency_key", "was already used for a different command")]
    )


def _now() -> timestamp_pb2.Timestamp:
    return to_timestamp(datetime.now(UTC))


class CaseServiceStandIn(case_grpc.CaseServiceServicer):
    def __init__(self) -> None:
        self.cases: dict[str, case_pb2.CaseView] = {}
        self.commands: list[Message] = []
        self.events: dict[str, list[events_pb2.CaseEvent]] = {}  # by case id, in version order
        self.watch_calls: list[tuple[case_pb2.WatchCaseRequest, dict[str, str]]] = []
        self.watches_open = 0
        self._versions: dict[str, list[case_pb2.CaseView]] = {}  # the case after each version
        self._bells: dict[str, set[asyncio.Event]] = {}
        self._ending: set[asyncio.Event] = set()
        self._by_key: dict[str, tuple[bytes, str]] = {}
        self._serials = itertools.count(1)
        self.unavailable_next = 0
        # A command's next call answers with this status instead (by RPC name: "ConfirmAnswer").
        self.refuse_next: dict[str, grpc.Status] = {}
        self.create_batches: list[int] = []  # the size of every CreateCases call
        self.batching = True  # False: CreateCases is UNIMPLEMENTED, like an older case service

    # -- helpers for tests ------------------------------------------------------------------

    def by_number(self, number: str) -> case_pb2.CaseView:
        return next(c for c in self.cases.values() if c.number == number)

    def set_status(self, number: str, status: int, close_reason: int = 0) -> None:
        """A specialist's (or a supervisor's) status change (StatusChanged)."""
        case = self.by_number(number)
        change = events_pb2.StatusChanged(
            from_status=case.status, to_status=status, close_reason=close_reason
        )
        case.status = status  # type: ignore[assignment]
        case.close_reason = close_reason  # type: ignore[assignment]
        self._record(case, _SPECIALIST, status_changed=change)

    def reply_as_specialist(self, number: str, body: str, public: bool = True) -> None:
        """A specialist's public reply, or (public=False) an internal note."""
        case = self.by_number(number)
        comment = case.comments.add(
            comment_id=str(uuid.uuid4()), body=body, public=public, author=_SPECIALIST, at=_now()
        )
        self._record(
            case,
            _SPECIALIST,
            commented=events_pb2.Commented(comment_id=comment.comment_id, body=body, public=public),
        )

    def assign(self, number: str, specialist: str) -> None:
        case = self.by_number(number)
        case.assignee = specialist
        self._record(case, _SPECIALIST, assigned=events_pb2.Assigned(specialist_id=specialist))

    def set_overdue(self, number: str) -> None:
        """The SLA service's breach, which the real service learns from sla.events.v1 (no case
        event)."""
        self.by_number(number).overdue = True

    def end_watches(self) -> None:
        """End every open WatchCase stream cleanly, as the real service does after its idle
        time or lifetime."""
        for ending in self._ending:
            ending.set()

    def of_type(self, kind: type[Message]) -> list[Message]:
        return [c for c in self.commands if isinstance(c, kind)]

    # -- events -----------------------------------------------------------------------------

    def _record(self, case: case_pb2.CaseView, actor: types_pb2.Actor, **payload: Message) -> None:
        """One event on `case` (already changed): its next version, kept and rung to watchers."""
        case.version += 1
        case.updated_at.CopyFrom(_now())
        (kind,) = payload
        event = events_pb2.CaseEvent(
            meta=envelope_pb2.EventMeta(
                event_id=str(uuid.uuid4()),
                case_id=case.case_id,
                case_version=case.version,
                event_type=f"case.{type(payload[kind]).__name__}",
                occurred_at=case.updated_at,
                actor=actor,
            ),
            **payload,
        )
        self.events.setdefault(case.case_id, []).append(event)
        snapshot = case_pb2.CaseView()
        snapshot.CopyFrom(case)
        self._versions.setdefault(case.case_id, []).append(snapshot)
        for bell in self._bells.get(case.case_id, ()):
            bell.set()

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

    async def _once(self, request, context, apply):  # type: ignore[no-untyped-def]
        await self._unavailable_now(context)
        scripted = self.refuse_next.pop(type(request).__name__.removesuffix("Request"), None)
        if scripted is not None:
            await context.abort_with_status(scripted)
        try:
            payload, earlier = self._earlier(request)
        except KeyError:
            await context.abort_with_status(_key_reused())
        if earlier is not None:
            return earlier
        case = await apply()
        self._done(request, payload, case)
        return case

    def _new_case(
        self, request: case_pb2.CreateCaseRequest, repeat_of: str = ""
    ) -> case_pb2.CaseView:
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
            repeat_of=repeat_of,
            registered_at=_now(),
        )
        self.cases[case.case_id] = case
        created = events_pb2.Created(
            number=number,
            channel=case.channel,
            citizen=case.citizen,
            content=case.content,
            provenance=case.provenance,
            attachments=case.attachments,
            repeat_of=repeat_of,
            linked_to=case.linked_to,
            identified_by=request.context.identified_by,
        )
        self._record(case, request.context.actor, created=created)
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
            added = case.comments.add(
                comment_id=str(uuid.uuid4()),
                body=request.body,
                public=request.public,
                author=request.context.actor,
                at=_now(),
                attachments=request.attachments,  # on the comment, as the case service keeps them
            )
            commented = events_pb2.Commented(
                comment_id=added.comment_id, body=request.body, public=request.public,
                attachments=request.attachments,
            )  # fmt: skip
            self._record(case, request.context.actor, commented=commented)
            return case

        return await self._once(request, context, comment)

    async def RepeatCase(self, request, context):  # type: ignore[no-untyped-def]
        async def repeat() -> case_pb2.CaseView:
            original = await self._existing(request.case_id, context)
            if original.status not in _ANSWERED and not original.overdue:
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "the case is neither answered (ANSWER_READY, CLOSED) nor overdue",
                )
            create = case_pb2.CreateCaseRequest(
                context=request.context,
                channel=request.channel or original.channel,
                type=original.type,
                category=original.category,
                citizen=original.citizen,
                content=original.content,
                provenance=(
                    request.provenance if request.HasField("provenance") else original.provenance
                ),
                attachments=request.attachments,
            )
            new = self._new_case(create, repeat_of=original.case_id)
            original.repeated_by.append(new.case_id)
            repeated = events_pb2.Repeated(
                new_case_id=new.case_id, new_case_number=new.number, reason=request.reason
            )
            self._record(original, request.context.actor, repeated=repeated)
            return new

        return await self._once(request, context, repeat)

    async def RequestEscalation(self, request, context):  # type: ignore[no-untyped-def]
        async def escalate() -> case_pb2.CaseView:
            case = await self._existing(request.case_id, context)
            plea = events_pb2.EscalationRequested(
                request_id=str(uuid.uuid4()),
                reason=request.reason,
                explanation=request.explanation,
            )
            self._record(case, request.context.actor, escalation_requested=plea)
            return case

        return await self._once(request, context, escalate)

    async def ConfirmAnswer(self, request, context):  # type: ignore[no-untyped-def]
        async def confirm() -> case_pb2.CaseView:
            case = await self._existing(request.case_id, context)
            if case.status != types_pb2.ANSWER_READY:
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION, "the case is not at ANSWER_READY"
                )
            change = events_pb2.StatusChanged(
                from_status=case.status,
                to_status=types_pb2.CLOSED,
                close_reason=events_pb2.ANSWER_CONFIRMED,
            )
            case.status = types_pb2.CLOSED
            case.close_reason = events_pb2.ANSWER_CONFIRMED
            self._record(case, request.context.actor, status_changed=change)
            return case

        return await self._once(request, context, confirm)

    async def RateAnswer(self, request, context):  # type: ignore[no-untyped-def]
        async def rate() -> case_pb2.CaseView:
            case = await self._existing(request.case_id, context)
            if case.status not in _ANSWERED or case.HasField("rating"):
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "the answer is already rated, or the case is not answered",
                )
            case.rating.CopyFrom(
                case_pb2.AnswerRating(
                    score=request.score, comment=request.comment, at=_now(),
                    channel=request.channel,
                )
            )  # fmt: skip
            rated = events_pb2.AnswerRated(
                score=request.score, comment=request.comment, channel=request.channel
            )
            self._record(case, request.context.actor, answer_rated=rated)
            return case

        return await self._once(request, context, rate)

    async def GetCase(self, request, context):  # type: ignore[no-untyped-def]
        for case in self.cases.values():
            if (request.number and case.number == request.number) or (
                request.case_id and case.case_id == request.case_id
            ):
                if not request.as_of_version:
                    return case
                versions = self._versions[case.case_id]
                if request.as_of_version > len(versions):
                    await context.abort(grpc.StatusCode.NOT_FOUND, "no such version yet")
                return versions[request.as_of_version - 1]
        await context.abort(grpc.StatusCode.NOT_FOUND, "case not found")

    async def WatchCase(self, request, context) -> AsyncIterator[events_pb2.CaseEvent]:  # type: ignore[no-untyped-def]
        sent = dict(context.invocation_metadata() or ())
        self.watch_calls.append((request, {k: v for k, v in sent.items() if k.startswith("x-")}))
        scripted = self.refuse_next.pop("WatchCase", None)
        if scripted is not None:
            await context.abort_with_status(scripted)
        if request.case_id not in self.cases:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"case {request.case_id} not found")
        bell, ending = asyncio.Event(), asyncio.Event()
        bell.set()
        self._bells.setdefault(request.case_id, set()).add(bell)
        self._ending.add(ending)
        self.watches_open += 1
        last = request.after_version
        try:
            while True:
                rung = asyncio.ensure_future(bell.wait())
                ended = asyncio.ensure_future(ending.wait())
                await asyncio.wait((rung, ended), return_when=asyncio.FIRST_COMPLETED)
                rung.cancel()
                ended.cancel()
                if ending.is_set():
                    return
                bell.clear()
                for event in self.events[request.case_id][last:]:
                    yield event
                    last = event.meta.case_version
        finally:
            self.watches_open -= 1
            self._bells[request.case_id].discard(bell)
            self._ending.discard(ending)

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
                    version=c.version,
                    sla_state=case_pb2.SLA_BREACHED if c.overdue else case_pb2.SLA_RUNNING,
                )
                for c in page
            ],
            next_page_token=str(following) if following < len(mine) else "",
        )
