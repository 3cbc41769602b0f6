"""Who has which case open: one entry per open case page, in this process's memory.

A case page is open while its event stream is: the stream joins when it starts and leaves when it
ends (the browser closed the tab or the connection dropped, the session ended). A stream also
touches its entry at every heartbeat; an entry not touched for `ttl_s` is dropped by the next
sweep, so a stream that stopped without leaving (stuck on a dead connection) is not shown for
long. One replica: a second desk process would not see this one's viewers.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    username: str
    display_name: str
    tier: str | None


@dataclass
class _Entry:
    case_id: str
    viewer: Viewer
    seen: float


class Presence:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise ValueError("a presence entry's lifetime must be positive")
        self._ttl_s, self._clock = ttl_s, clock
        self._entries: dict[int, _Entry] = {}
        self._tickets = itertools.count(1)

    def join(self, case_id: str, viewer: Viewer, ticket: int | None = None) -> int:
        """A page of `case_id` opened by `viewer`; the ticket to touch and leave with (given: a
        swept page that turned out alive comes back under its ticket)."""
        ticket = next(self._tickets) if ticket is None else ticket
        self._entries[ticket] = _Entry(case_id, viewer, self._clock())
        return ticket

    def touch(self, ticket: int) -> bool:
        """False when the entry is gone (left, or swept as stale)."""
        entry = self._entries.get(ticket)
        if entry is None:
            return False
        entry.seen = self._clock()
        return True

    def leave(self, ticket: int) -> str | None:
        """The case the page was of (None: already gone)."""
        entry = self._entries.pop(ticket, None)
        return entry.case_id if entry else None

    def sweep(self) -> set[str]:
        """Drop entries not touched within the lifetime; the cases whose viewers changed."""
        cutoff = self._clock() - self._ttl_s
        stale = [ticket for ticket, entry in self._entries.items() if entry.seen < cutoff]
        return {case_id for ticket in stale if (case_id := self.leave(ticket))}

    def tickets(self, case_id: str) -> list[int]:
        return [ticket for ticket, entry in self._entries.items() if entry.case_id == case_id]

    def others(self, case_id: str, username: str) -> list[Viewer]:
        """The other people with the case open (a person with two tabs once), by name."""
        seen: dict[str, Viewer] = {}
        for entry in self._entries.values():
            if entry.case_id == case_id and entry.viewer.username != username:
                seen.setdefault(entry.viewer.username, entry.viewer)
        return sorted(seen.values(), key=lambda viewer: (viewer.display_name, viewer.username))
