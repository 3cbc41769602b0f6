"""A case page's live feed: the case service's WatchCase stream (the case service journals every
watch it starts) and the page's place among the case's viewers, for as long as the page is open
and the specialist's session lives (streams.Follower: token refresh, session end)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from casedesk_desk.application.ports import CaseChange, Cases
from casedesk_desk.application.presence import PresenceBoard, Viewers
from casedesk_desk.application.streams import Follower
from casedesk_desk.application.work import PURPOSE_WORK
from casedesk_desk.domain.presence import Viewer


class LiveCase:
    def __init__(self, cases: Cases, follower: Follower, board: PresenceBoard) -> None:
        self._cases, self._follower, self._board = cases, follower, board

    async def follow(
        self, session_id: str, viewer: Viewer, case_id: str, after_version: int
    ) -> AsyncGenerator[CaseChange | Viewers | None, None]:
        """The case's changes after `after_version`, the other viewers whenever they change
        (first at once), and None as a heartbeat every check interval without either."""

        def watch(token: str, after: int) -> AsyncIterator[CaseChange]:
            return self._cases.watch(token, case_id, after, PURPOSE_WORK)

        inbox: asyncio.Queue[Any] = asyncio.Queue()
        with self._board.present(case_id, viewer, inbox) as ticket:
            feed = self._follower.follow(session_id, watch, after_version, _later, side=inbox)
            try:
                async for got in feed:
                    if got is None:
                        self._board.touch(ticket)
                    yield got
            finally:
                await feed.aclose()


def _later(version: int, change: CaseChange) -> int:
    return max(version, change.item.version)
