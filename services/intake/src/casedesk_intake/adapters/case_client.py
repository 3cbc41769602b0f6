"""The case service over gRPC: the only way intake reads or changes a case.

Every command carries an idempotency key derived from the frontend's, so a command is safe to
send again: after UNAVAILABLE here (a few quick retries), and after an intake crash (the
frontend's retry). What the case service refuses is passed on with its status and details.

Creates made while an earlier one is on its way travel together in one CreateCases call: under
load that saves most of the per-call cost on both sides, and the case service stores them in one
transaction anyway. Each create keeps its own trace (CommandContext.traceparent). A case service
that does not know CreateCases yet (a rolling upgrade) gets single CreateCase calls.

A call carries at most MAX_CALL_BYTES of creates, whatever their number: sixty-four long Cyrillic
descriptions together would pass gRPC's receive limit, and the call would fail for every citizen
in it. A create that no call could carry is refused on its own (InvalidRequest naming its largest
field), before it is sent.

A read made for a person carries his staff token (`x-person-token`) and why he reads
(`x-access-purpose`): the case service verifies the token, applies its rules to him and journals
the read as his, via intake. That person is an operator acting for a citizen, or a specialist at
the desk opening an attachment (`read_for_person`; intake does not verify his token itself, the
case service's answer decides). Reads for a citizen or for intake itself carry neither.

`watch_case` follows the case service's WatchCase stream (for WatchMyCase, application/watching.py)
with no deadline: the case service ends it cleanly when quiet or old, and the watch reopens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import quote

import grpc
from google.protobuf.message import Message
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk_intake.domain.acting import PERSON_TOKEN_KEY
from casedesk_intake.domain.cases import (
    AnswerConfirmation,
    AnswerRating,
    Case,
    CaseEventSeen,
    CasePage,
    EscalationPlea,
    NewCase,
    NewComment,
    Repetition,
)
from casedesk_intake.domain.errors import (
    CaseServiceError,
    IdempotencyKeyReused,
    IntakeError,
    InvalidRequest,
)
from casedesk_intake.wire import cases as wire
from casedesk_runtime.batching import Coalescer
from casedesk_runtime.grpc_errors import (
    STATUS_DETAILS_KEY,
    Metadata,
    field_violations,
    precondition_types,
)

T = TypeVar("T")
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
# Refusals after which nothing happened; any other failure may have left a done command behind.
_DEFINITE_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.ABORTED,
    }
)
_BACKOFF_S = (0.05, 0.2, 0.5)
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_TRACE_CONTEXT = TraceContextTextMapPropagator()
MAX_CREATES_PER_CALL = 64
# What one call to the case service may carry: gRPC's default receive limit (4 MiB), which the
# case service keeps for requests and intake's channel for replies, less room for what a reply
# adds to each case (its number, status and times).
MAX_CALL_BYTES = 3 * 1024 * 1024
# A create's bytes in a CreateCasesRequest beyond its own: the field's tag and length.
_ITEM_FRAMING_BYTES = 6
PURPOSE_KEY = "x-access-purpose"
# Why an operator reads a case through intake, as the access journal records it.
OPERATOR_PURPOSE = "a citizen's request to an operator"


class CaseClient:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        timeout_s: float = 10.0,
        max_creates_per_call: int = MAX_CREATES_PER_CALL,
        max_call_bytes: int = MAX_CALL_BYTES,
    ) -> None:
        self._stub = case_grpc.CaseServiceStub(channel)
        self._timeout = timeout_s
        self._batched = max_creates_per_call > 1
        self._max_call_bytes = max_call_bytes
        self._creates: Coalescer[case_pb2.CreateCaseRequest, case_pb2.CaseView] = Coalescer(
            self._create_together,
            max_batch=max(1, max_creates_per_call),
            max_weight=max_call_bytes,
        )

    async def _call(
        self,
        method: Callable[..., Awaitable[T]],
        request: object,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> T:
        for pause in (*_BACKOFF_S, None):
            try:
                return await method(request, timeout=self._timeout, metadata=tuple(metadata))
            except grpc.aio.AioRpcError as error:
                if error.code() in _RETRYABLE and pause is not None:
                    await asyncio.sleep(pause)
                    continue
                raise _refusal(
                    error.code(), error.details() or "", error.trailing_metadata()
                ) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def create_case(self, new: NewCase) -> Case:
        request = wire.create_case_request(new)
        batched = self._batched
        if batched:
            carrier: dict[str, str] = {}
            _TRACE_CONTEXT.inject(carrier)  # this frontend call's trace, not the batch's
            request.context.traceparent = carrier.get("traceparent", "")
        size = request.ByteSize() + _ITEM_FRAMING_BYTES
        if size > self._max_call_bytes:
            raise _too_long(request, size, self._max_call_bytes)
        if not batched:
            return wire.case(await self._call(self._stub.CreateCase, request))
        return wire.case(await self._creates(request, size))

    async def _create_together(
        self, requests: Sequence[case_pb2.CreateCaseRequest]
    ) -> list[case_pb2.CaseView | BaseException]:
        batch = case_pb2.CreateCasesRequest(cases=requests)
        try:
            reply = await self._call(self._stub.CreateCases, batch)
        except CaseServiceError as failure:
            if failure.code != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self._batched = False  # an older case service: one call per case from now on
            return await asyncio.gather(
                *(self._call(self._stub.CreateCase, request) for request in requests),
                return_exceptions=True,
            )
        return [_outcome(result) for result in reply.results]

    async def close(self) -> None:
        await self._creates.close()

    async def add_comment(self, comment: NewComment) -> Case:
        request = wire.add_comment_request(comment)
        return wire.case(await self._call(self._stub.AddComment, request))

    async def repeat_case(self, repetition: Repetition) -> Case:
        request = wire.repeat_case_request(repetition)
        return wire.case(await self._call(self._stub.RepeatCase, request))

    async def request_escalation(self, plea: EscalationPlea) -> Case:
        request = wire.request_escalation_request(plea)
        return wire.case(await self._call(self._stub.RequestEscalation, request))

    async def confirm_answer(self, confirmation: AnswerConfirmation) -> Case:
        request = wire.confirm_answer_request(confirmation)
        return wire.case(await self._call(self._stub.ConfirmAnswer, request))

    async def rate_answer(self, rating: AnswerRating) -> Case:
        request = wire.rate_answer_request(rating)
        return wire.case(await self._call(self._stub.RateAnswer, request))

    async def read_case(self, case_id: str, person_token: str = "") -> Case:
        request = case_pb2.GetCaseRequest(case_id=case_id)
        return wire.case(await self._call(self._stub.GetCase, request, _reading_for(person_token)))

    async def watch_case(
        self, case_id: str, after_version: int, person_token: str = ""
    ) -> AsyncIterator[CaseEventSeen]:
        # No deadline: the stream lasts as long as its watcher (application/watching.py) wants;
        # the case service ends it cleanly when quiet or old, and the watcher reopens it.
        call = self._stub.WatchCase(
            case_pb2.WatchCaseRequest(case_id=case_id, after_version=after_version),
            metadata=tuple(_reading_for(person_token)),
        )
        try:
            async for event in call:
                yield wire.event_seen(event)
        except grpc.aio.AioRpcError as error:
            raise _refusal(error.code(), error.details() or "", error.trailing_metadata()) from None
        finally:
            call.cancel()

    async def find_by_number(self, number: str, person_token: str = "") -> Case | None:
        request = case_pb2.GetCaseRequest(number=number)
        try:
            view = await self._call(self._stub.GetCase, request, _reading_for(person_token))
        except CaseServiceError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return wire.case(view)

    async def list_for_citizen(self, login: str, page_size: int, page_token: str) -> CasePage:
        request = case_pb2.ListCasesRequest(
            citizen_login=login, page_size=page_size, page_token=page_token
        )
        return wire.case_page(await self._call(self._stub.ListCases, request))

    async def read_for_person(self, case_id: str, person_token: str, purpose: str) -> Case:
        if not person_token:
            raise ValueError("a read for a person needs his token")  # else intake's own read
        request = case_pb2.GetCaseRequest(case_id=case_id)
        metadata = _reading_for(person_token, purpose)
        return wire.case(await self._call(self._stub.GetCase, request, metadata))


def _reading_for(person_token: str, purpose: str = OPERATOR_PURPOSE) -> list[tuple[str, str]]:
    """The metadata of a read made for the person with this token (none: not for a person).
    The purpose is percent-encoded: gRPC metadata is ASCII, the journal's words are Russian."""
    if not person_token:
        return []
    return [(PERSON_TOKEN_KEY, person_token), (PURPOSE_KEY, quote(purpose))]


def _outcome(result: case_pb2.CreateCaseResult) -> case_pb2.CaseView | IntakeError:
    if result.WhichOneof("outcome") == "created":
        return result.created
    refusal = result.refusal
    trailing = ((STATUS_DETAILS_KEY, refusal.status_details),) if refusal.status_details else None
    code = _CODES.get(refusal.code, grpc.StatusCode.UNKNOWN)
    return _refusal(code, refusal.message, trailing)


def _too_long(request: Message, size: int, limit: int) -> InvalidRequest:
    field = _largest_field(request)
    return InvalidRequest(
        [(field, f"too long: the case would take {size} bytes, more than the {limit} one call "
                 "to the case service may carry; shorten this field")]
    )  # fmt: skip


def _largest_field(message: Message, prefix: str = "") -> str:
    """The path of the field that takes the most bytes of `message`, down to a text or a list
    (what a refusal of the whole message names: `content.description`)."""
    largest, largest_size = None, -1
    for descriptor, value in message.ListFields():
        size = sum(_size(item) for item in value) if descriptor.is_repeated else _size(value)
        if size > largest_size:
            largest, largest_size = (descriptor, value), size
    if largest is None:
        return prefix.rstrip(".")
    descriptor, value = largest
    path = prefix + descriptor.name
    if not descriptor.is_repeated and isinstance(value, Message):
        return _largest_field(value, path + ".")
    return path


def _size(value: object) -> int:
    if isinstance(value, Message):
        return value.ByteSize()
    if isinstance(value, str):
        return len(value.encode())
    return len(value) if isinstance(value, bytes) else 8


def _refusal(code: grpc.StatusCode, message: str, trailing: Metadata | None) -> IntakeError:
    if code == grpc.StatusCode.INVALID_ARGUMENT and _key_reused(trailing):
        # The frontend's key carried another request before: the case service's receipt of the
        # first says so. Answered like intake's own record would (ALREADY_EXISTS), since a call
        # the receipt answers has no record here (IdempotentCalls.run_on_receipt).
        return IdempotencyKeyReused()
    return CaseServiceError(
        code, message, trailing,  # type: ignore[arg-type]
        nothing_done=code in _DEFINITE_REFUSALS,
        citizen_erased=code == grpc.StatusCode.FAILED_PRECONDITION and _erased(trailing),
    )  # fmt: skip


def _erased(trailing: Metadata | None) -> bool:
    """Whether the refusal names an ERASED precondition (a sealing case service's CitizenErased:
    the citizen's data key was destroyed)."""
    return "ERASED" in precondition_types(trailing)


def _key_reused(trailing: Metadata | None) -> bool:
    """Whether the refusal names the command's idempotency key: the case service's
    IdempotencyKeyReused (the only refusal that names that field)."""
    return any(f == "context.idempotency_key" for f, _ in field_violations(trailing))
