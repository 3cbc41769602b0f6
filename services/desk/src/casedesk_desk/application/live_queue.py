"""The queue page's live feed: the case service's WatchQueue stream with the specialist's token
(every summary it sends is a journaled read of theirs), each change judged against the page's
view and filters: a case that belongs is added or updated, one that no longer does is removed.
The callback tasks' page follows the same stream with its own judge (owes a callback or not).
Token refresh, session end and resumption as for a case page (streams.Follower)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from casedesk_desk.application.ports import Cases, QueueChange
from casedesk_desk.application.streams import Follower
from casedesk_desk.domain.queue import QueueRow
from casedesk_desk.domain.sessions import Person


class RowJudge(Protocol):
    """A page's rule for which cases it shows (domain/queue_filter.py, domain/callbacks.py)."""

    def matches(self, row: QueueRow, username: str, tier: str | None) -> bool: ...


@dataclass(frozen=True)
class RowUpdate:
    position: str  # where a reconnecting page resumes (the stream's event id)
    row: QueueRow
    belongs: bool  # False: the page drops the row if it shows it
    event_type: str


class LiveQueue:
    def __init__(self, cases: Cases, follower: Follower) -> None:
        self._cases, self._follower = cases, follower

    async def follow(
        self, session_id: str, person: Person, page: RowJudge, after_position: str
    ) -> AsyncGenerator[RowUpdate | None, None]:
        """The page's row updates after `after_position` (empty: from now on); None as a
        heartbeat every check interval without one."""

        def watch(token: str, after: str) -> AsyncIterator[QueueChange]:
            return self._cases.watch_queue(token, after)

        feed = self._follower.follow(session_id, watch, after_position, _next)
        try:
            async for change in feed:
                if change is None:
                    yield None
                    continue
                belongs = page.matches(change.row, person.username, person.tier)
                yield RowUpdate(change.position, change.row, belongs, change.event_type)
        finally:
            await feed.aclose()


def _next(position: str, change: QueueChange) -> str:
    return change.position or position
