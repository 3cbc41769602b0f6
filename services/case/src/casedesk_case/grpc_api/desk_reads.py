"""The desk's reads for people only: WatchQueue, GetCaseTimeline and GetDeskOverview.

Mixed into `CaseServicer`. Each needs a person token (the desk's or an operator's call; in
development mode a call with one): a service reads none of them for itself.

WatchQueue streams are bounded per process (`max_queue_streams`, stream_limits.OpenStreams): each
open stream costs a few queries per batch of changes, and a desk that reconnects in a loop must
not starve the commands. Beyond the bound a new stream is RESOURCE_EXHAUSTED; the desk retries
after a while.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_case.adapters.queue_feed import CaseQueueFeed
from casedesk_case.application.desk_reads import DeskReads
from casedesk_case.application.identity import PersonUnauthenticated
from casedesk_case.application.person_reads import Reader
from casedesk_case.grpc_api import read_requests
from casedesk_case.grpc_api.checks import RequestCheck
from casedesk_case.grpc_api.errors import REFUSALS, abort_for, rpc
from casedesk_case.grpc_api.people import PERSON_TOKEN_KEY, Acting
from casedesk_case.grpc_api.reads import CaseReadRpcs, wait_until
from casedesk_case.grpc_api.stream_limits import OpenStreams
from casedesk_case.wire.desk import overview_to_proto, queue_change_to_proto, timeline_to_proto

DEFAULT_MAX_QUEUE_STREAMS = 200


class DeskReadRpcs(CaseReadRpcs):
    """The servicer sets `_queue_feed`, `_desk_reads` (None: started without a case timeline)
    and `_queue_streams` (the WatchQueue streams open now, and their bound)."""

    _queue_feed: CaseQueueFeed
    _desk_reads: DeskReads | None
    _queue_streams: OpenStreams

    async def WatchQueue(
        self, request: pb.WatchQueueRequest, context: Any
    ) -> AsyncIterator[pb.QueueChange]:
        try:
            acting = await self._people.acting(context)
            check = RequestCheck()
            after = read_requests.queue_position(check, request)
            check.done()
            reader = _reader(acting, "WatchQueue")
            self._app.person_reads.check_watches_queue(reader)
            position = await self._call(self._queue_feed.start_position, after)
        except REFUSALS as error:
            await abort_for(error, context)
            raise AssertionError("unreachable: abort raises") from error
        async with self._queue_streams.admitted(context), self._feed.watch_every_case() as signal:
            while True:
                if not await wait_until(signal, acting.expires_at):
                    await _token_expired(context)
                signal.clear()
                more = True
                while more:  # a backlog (a desk resuming) in batches
                    if _expired(acting.expires_at):
                        await _token_expired(context)
                    changes, position, more = await self._call(
                        self._queue_feed.changes_after, reader, position
                    )
                    for change in changes:
                        try:
                            message = await self._opened(queue_change_to_proto(change))
                        except REFUSALS as error:
                            await abort_for(error, context)
                            raise AssertionError("unreachable: abort raises") from error
                        yield message

    @rpc
    async def GetCaseTimeline(
        self, request: pb.GetCaseTimelineRequest, context: Any
    ) -> pb.CaseTimeline:
        acting = await self._people.acting(context)
        check = RequestCheck()
        check.case_id(request.case_id)
        check.done()
        reader = _reader(acting, "GetCaseTimeline")
        desk = await self._desk(context, "GetCaseTimeline")
        return timeline_to_proto(await self._call(desk.case_timeline, reader, request.case_id))

    @rpc
    async def GetDeskOverview(
        self, request: pb.GetDeskOverviewRequest, context: Any
    ) -> pb.DeskOverview:
        acting = await self._people.acting(context)
        person = _reader(acting, "GetDeskOverview").person
        desk = await self._desk(context, "GetDeskOverview")
        return overview_to_proto(await self._call(desk.overview, person, request.days))

    async def _desk(self, context: Any, rpc_name: str) -> DeskReads:
        if self._desk_reads is None:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{rpc_name} needs the case timeline, which this process was started without",
            )
        assert self._desk_reads is not None
        return self._desk_reads


def _reader(acting: Acting, rpc_name: str) -> Reader:
    if acting.person is None:
        raise PersonUnauthenticated(
            f"{rpc_name} is read by a person: send their token as {PERSON_TOKEN_KEY}"
        )
    return Reader(acting.person, acting.caller, acting.purpose)


def _expired(expires_at: datetime | None) -> bool:
    return expires_at is not None and datetime.now(UTC) >= expires_at


async def _token_expired(context: Any) -> None:
    # A person's stream lasts as long as their token, as WatchCase's does.
    await context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        f"{PERSON_TOKEN_KEY} expired: watch again with a fresh one",
    )
