"""The case service's reads: GetCase, GetHistory, ListCases, WatchCase and ListAccessRecords (the
desk's WatchQueue, GetCaseTimeline and GetDeskOverview are in desk_reads.py).

Mixed into `CaseServicer`. A person's reads (the desk's, an operator's, intake's for the
operator whose token it sends) go through the application's `person_reads`: who sees which case,
and the access journal; a service's for itself (intake serving a citizen their own case) through
the plain queries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import events_pb2
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application import CaseApplication
from casedesk_case.application.identity import PersonUnauthenticated
from casedesk_case.grpc_api import read_requests, requests
from casedesk_case.grpc_api.checks import RequestCheck
from casedesk_case.grpc_api.errors import REFUSALS, abort_for, rpc
from casedesk_case.grpc_api.people import PERSON_TOKEN_KEY, People
from casedesk_case.grpc_api.stream_limits import OpenStreams, StreamLifetime, WatchCaseLimits
from casedesk_case.wire.access_records import access_page_to_proto
from casedesk_case.wire.events import to_case_event
from casedesk_case.wire.personal import ReplyOpener
from casedesk_case.wire.values import case_view_to_proto, summary_to_proto

T = TypeVar("T")
M = TypeVar("M", bound=Message)


class CaseReadRpcs:
    """The read RPCs, and the one helper every RPC uses; the servicer sets the attributes."""

    _app: CaseApplication
    _executor: Executor
    _feed: CaseEventFeed
    _people: People
    _watch_case: WatchCaseLimits
    _case_streams: OpenStreams
    _opener: ReplyOpener | None

    async def _opened(self, message: M, erased: str | None = None) -> M:
        """A reply with its sealed personal fields opened (wire/personal.py), when sealing is
        on; the reply as it is otherwise. `erased`: what an erased citizen's texts show (None:
        CitizenErased, except in list views)."""
        if self._opener is not None:
            await self._opener.open(message, erased)
        return message

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)` in a worker thread: application calls do database I/O."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    @rpc
    async def GetCase(self, request: pb.GetCaseRequest, context: Any) -> pb.CaseView:
        acting = await self._people.acting(context)
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
        as_of_time = check.instant(request.as_of_time, "as_of_time") if has_time else None
        check.done()
        as_of = {"as_of_version": request.as_of_version or None, "as_of_time": as_of_time}
        by_number = key == "number"
        reference = request.number if by_number else request.case_id
        reader = acting.reader()
        if reader is None:
            get = self._app.get_case_by_number if by_number else self._app.get_case
            view = await self._call(get, reference, **as_of)
        else:
            reads = self._app.person_reads
            get_for = reads.get_case_by_number if by_number else reads.get_case
            view = await self._call(get_for, reader, reference, **as_of)
        return await self._opened(case_view_to_proto(view))

    @rpc
    async def GetHistory(self, request: pb.GetHistoryRequest, context: Any) -> pb.HistoryPage:
        acting = await self._people.acting(context)
        check = RequestCheck()
        check.case_id(request.case_id)
        check.require(request.after_version >= 0, "after_version", "must not be negative")
        check.require(request.page_size >= 0, "page_size", "must not be negative")
        check.done()
        paging = {"after_version": request.after_version, "page_size": request.page_size}
        reader = acting.reader()
        page = await (
            self._call(self._app.history, request.case_id, **paging)
            if reader is None
            else self._call(self._app.person_reads.history, reader, request.case_id, **paging)
        )
        return await self._opened(
            pb.HistoryPage(
                events=[to_case_event(e) for e in page.events],
                next_after_version=page.next_after_version,
            )
        )

    @rpc
    async def ListCases(self, request: pb.ListCasesRequest, context: Any) -> pb.CaseList:
        acting = await self._people.acting(context)
        check = RequestCheck()
        criteria = read_requests.case_filter(check, request)
        check.done()
        if criteria.citizen_login and self._app.personal_data is not None:
            # The index keeps a sealed login as its subject (application/personal_data.py).
            lookup = self._app.personal_data.login_lookup(criteria.citizen_login)
            criteria = dataclasses.replace(criteria, citizen_login=lookup)
        paging = {"page_size": request.page_size, "page_token": request.page_token}
        reader = acting.reader()
        page = await (
            self._call(self._app.list_cases, criteria, **paging)
            if reader is None
            else self._call(self._app.person_reads.list_cases, reader, criteria, **paging)
        )
        return await self._opened(
            pb.CaseList(
                cases=[summary_to_proto(s) for s in page.cases],
                next_page_token=page.next_page_token,
            )
        )

    @rpc
    async def ListAccessRecords(
        self, request: pb.ListAccessRecordsRequest, context: Any
    ) -> pb.AccessRecordPage:
        acting = await self._people.acting(context)
        check = RequestCheck()
        criteria = requests.access_filter(check, request)
        check.done()
        if acting.person is None:
            raise PersonUnauthenticated(
                f"the access journal is read by an auditor: send their token as {PERSON_TOKEN_KEY}"
            )
        page = await self._call(
            self._app.person_reads.access_records, acting.person, criteria,
            page_size=request.page_size, page_token=request.page_token,
        )  # fmt: skip
        return access_page_to_proto(page)

    async def WatchCase(
        self, request: pb.WatchCaseRequest, context: Any
    ) -> AsyncIterator[events_pb2.CaseEvent]:
        try:
            acting = await self._people.acting(context)
            check = RequestCheck()
            check.case_id(request.case_id)
            check.require(request.after_version >= 0, "after_version", "must not be negative")
            check.done()
        except REFUSALS as error:
            await abort_for(error, context)
            raise AssertionError("unreachable: abort raises") from error
        # Admitted before the case is read (and the read journaled): a refused stream read nothing.
        async with self._case_streams.admitted(context):
            try:
                reader = acting.reader()
                if reader is None:  # NOT_FOUND before streaming
                    await self._call(self._app.get_case, request.case_id)
                else:
                    await self._call(self._app.person_reads.start_watch, reader, request.case_id)
            except REFUSALS as error:
                await abort_for(error, context)
                raise AssertionError("unreachable: abort raises") from error
            async for event in self._case_events(request, acting.expires_at, context):
                yield event

    async def _case_events(
        self, request: pb.WatchCaseRequest, token_expires_at: datetime | None, context: Any
    ) -> AsyncIterator[events_pb2.CaseEvent]:
        """The case's events after the request's version, until the stream's lifetime is over
        (then it ends cleanly: the client watches again after the last version it received) or
        the person's token expires."""
        last = request.after_version
        lifetime = StreamLifetime(self._watch_case)
        async with self._feed.watch(request.case_id) as signal:
            while True:
                token_first = token_expires_at is not None and token_expires_at <= lifetime.deadline
                if not await wait_until(
                    signal, token_expires_at if token_first else lifetime.deadline
                ):
                    if not token_first:
                        return
                    # A person's stream lasts as long as their token: a revoked specialist
                    # stops receiving the case at the latest when it expires.
                    await context.abort(
                        grpc.StatusCode.UNAUTHENTICATED,
                        f"{PERSON_TOKEN_KEY} expired: watch again with a fresh one",
                    )
                signal.clear()
                events = await self._call(self._app.events_after, request.case_id, last)
                for event in events:
                    try:
                        message = await self._opened(to_case_event(event))
                    except REFUSALS as error:
                        await abort_for(error, context)
                        raise AssertionError("unreachable: abort raises") from error
                    yield message
                    last = event.originator_version
                if events:
                    lifetime.sent()


async def wait_until(signal: asyncio.Event, deadline: datetime | None) -> bool:
    """Wait for the signal; False when `deadline` came first."""
    if deadline is None:
        await signal.wait()
        return True
    remaining = (deadline - datetime.now(UTC)).total_seconds()
    try:
        await asyncio.wait_for(signal.wait(), max(0.0, remaining))
    except TimeoutError:
        return False
    return True
