"""Group commit: concurrent saves share one database transaction.

The event store serialises writers (PostgreSQL: a table lock that keeps notification ids in commit
order), so one transaction per command caps throughput at the round-trip rate. Here, the first
thread to save becomes the leader; saves that arrive while it commits wait in a queue and the next
leader writes all of them in one transaction. A conflict in a group (an optimistic-concurrency
IntegrityError) is resolved by writing that group's saves one by one, so each caller still gets
exactly its own outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)

MAX_GROUP = 200


class _PendingSave:
    __slots__ = ("error", "events", "lead", "result", "wake")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
        self.lead = False
        # Released exactly once, to wake the saving thread: a held lock is cheaper than an Event.
        self.wake = threading.Lock()
        self.wake.acquire()
        self.result: Sequence[int] | None = None
        self.error: BaseException | None = None


class GroupCommitRecorder(ApplicationRecorder):
    def __init__(self, inner: ApplicationRecorder, max_group: int = MAX_GROUP) -> None:
        self.inner = inner
        self._max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_PendingSave] = []
        self._busy = False

    @property
    def waiting(self) -> int:
        """Saves queued behind the transaction under way (for tests and diagnostics)."""
        with self._lock:
            return len(self._queue)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The application's event store always passes `tracking` (None outside process
        # applications): only a real tracking record has to go in a transaction of its own.
        if not stored_events or any(value is not None for value in kwargs.values()):
            return self.inner.insert_events(stored_events, **kwargs)
        pending = _PendingSave(stored_events)
        with self._lock:
            self._queue.append(pending)
            if not self._busy:
                self._busy = pending.lead = True
        if not pending.lead:
            pending.wake.acquire()
        if pending.lead:
            self._lead()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _lead(self) -> None:
        with self._lock:
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
        try:
            self._commit(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.release()
                else:
                    self._busy = False
            for member in group:
                if not member.lead:
                    member.wake.release()

    def _commit(self, group: list[_PendingSave]) -> None:
        if len(group) > 1:
            try:
                ids = self.inner.insert_events([e for member in group for e in member.events])
            except IntegrityError:
                pass  # somebody in the group conflicts: find out who, one by one
            except Exception as error:
                for member in group:
                    member.error = error
                return
            else:
                offset = 0
                for member in group:
                    count = len(member.events)
                    member.result = list(ids[offset : offset + count]) if ids else None
                    offset += count
                return
        for member in group:
            try:
                member.result = self.inner.insert_events(member.events)
            except Exception as error:
                member.error = error

    # -- everything else is the wrapped recorder's ------------------------------------------

    def select_events(self, originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        return self.inner.select_events(originator_id, **kwargs)

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (),
        *, inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:  # fmt: skip
        return self.inner.select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )

    def max_notification_id(self) -> int | None:
        return self.inner.max_notification_id()

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[Any]:
        return self.inner.subscribe(gt, topics)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
