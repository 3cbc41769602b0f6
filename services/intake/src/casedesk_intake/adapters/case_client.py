"""The case service over gRPC: the only way intake reads or changes a case.

Every command carries an idempotency key derived from the frontend's, so a command is safe to
send again: after UNAVAILABLE here (a few quick retries), and after an intake crash (the
frontend's retry). What the case service refuses is passed on with its status and details.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.case.v1 import case_service_pb2_grpc as case_grpc
from casedesk_intake.errors import CaseServiceError

T = TypeVar("T")
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
_BACKOFF_S = (0.05, 0.2, 0.5)


class CaseClient:
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 10.0) -> None:
        self._stub = case_grpc.CaseServiceStub(channel)
        self._timeout = timeout_s

    async def _call(self, method: Callable[..., Awaitable[T]], request: object) -> T:
        for pause in (*_BACKOFF_S, None):
            try:
                return await method(request, timeout=self._timeout)
            except grpc.aio.AioRpcError as error:
                if error.code() in _RETRYABLE and pause is not None:
                    await asyncio.sleep(pause)
                    continue
                raise CaseServiceError(
                    error.code(), error.details() or "", error.trailing_metadata()
                ) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def create_case(self, request: case_pb2.CreateCaseRequest) -> case_pb2.CaseView:
        return await self._call(self._stub.CreateCase, request)

    async def add_comment(self, request: case_pb2.AddCommentRequest) -> case_pb2.CaseView:
        return await self._call(self._stub.AddComment, request)

    async def repeat_case(self, request: case_pb2.RepeatCaseRequest) -> case_pb2.CaseView:
        return await self._call(self._stub.RepeatCase, request)

    async def request_escalation(
        self, request: case_pb2.RequestEscalationRequest
    ) -> case_pb2.CaseView:
        return await self._call(self._stub.RequestEscalation, request)

    async def find_by_number(self, number: str) -> case_pb2.CaseView | None:
        try:
            return await self._call(self._stub.GetCase, case_pb2.GetCaseRequest(number=number))
        except CaseServiceError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    async def list_for_citizen(
        self, login: str, page_size: int, page_token: str
    ) -> case_pb2.CaseList:
        request = case_pb2.ListCasesRequest(
            citizen_login=login, page_size=page_size, page_token=page_token
        )
        return await self._call(self._stub.ListCases, request)
