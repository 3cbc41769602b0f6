"""The watch feed: telling WatchCase streams that their case has new events, and WatchQueue
streams that any case has.

The feed only rings: each stream then reads what it sends after the last thing it sent, from the
store (a WatchCase stream its case's events after a version, a WatchQueue stream the case log
after a position), so a stream never skips or repeats an event whichever replica stored it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from casedesk_case.application import CaseApplication
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_runtime.following import Doorbell, follow


class CaseEventFeed:
    def __init__(self, app: CaseApplication, idle_s: float = 0.2, batch_size: int = 1000) -> None:
        self._app = app
        self._idle_s = idle_s
        self._batch_size = batch_size
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._every_case: set[asyncio.Event] = set()  # WatchQueue streams
        self._position: int | None = None
        self.bell = Doorbell()

    @asynccontextmanager
    async def watch(self, case_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever the case may have new events; starts set."""
        async with self._watching(case_id) as signal:
            yield signal

    @asynccontextmanager
    async def watch_every_case(self) -> AsyncIterator[asyncio.Event]:
        """An event set whenever any case may have new events; starts set."""
        async with self._watching(None) as signal:
            yield signal

    @asynccontextmanager
    async def _watching(self, case_id: str | None) -> AsyncIterator[asyncio.Event]:
        if self._position is None:
            # Follow the log from here on; the watcher reads what came before itself.
            self._position = await asyncio.to_thread(self._app.recorder.max_notification_id) or 0
        signal = asyncio.Event()
        signal.set()
        watchers = (
            self._every_case if case_id is None else self._watchers.setdefault(case_id, set())
        )
        watchers.add(signal)
        try:
            yield signal
        finally:
            watchers.discard(signal)
            if case_id is not None and not watchers:
                self._watchers.pop(case_id, None)
            if not self._watched():
                self._position = None  # nobody watches: stop reading the log

    def _watched(self) -> bool:
        return bool(self._watchers or self._every_case)

    def ring(self) -> None:
        """After each save (from the saving thread): wake the feed, but only while watched."""
        if self._watched():
            self.bell.ring()

    async def run(self) -> None:
        await follow("case event feed", self._step, self.bell, self._idle_s)

    async def _step(self) -> int:
        position = self._position
        if position is None:
            return 0
        notifications = await asyncio.to_thread(
            self._app.recorder.select_notifications,
            position,
            self._batch_size,
            topics=CASE_EVENT_TOPICS,
            inclusive_of_start=False,
        )
        for notification in notifications:
            for signal in self._watchers.get(str(notification.originator_id), ()):
                signal.set()
        if notifications:
            for signal in self._every_case:
                signal.set()
        if notifications and self._position is not None:
            self._position = max(self._position, notifications[-1].id)
        return len(notifications)
