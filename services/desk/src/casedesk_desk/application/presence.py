"""«Кто ещё открыл обращение»: the open case pages of this desk process, told to each other.

Each open case page's event stream holds a place on the board while it runs; whenever the people
on a case change, every stream of that case gets the others' list (itself left out) as a
`Viewers` side item. In this process's memory: the desk runs as one replica (as its sessions do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from casedesk_desk.domain.presence import Presence, Viewer


@dataclass(frozen=True)
class Viewers:
    """The other people who have the case open now."""

    others: tuple[Viewer, ...]


class PresenceBoard:
    def __init__(self, presence: Presence) -> None:
        self._presence = presence
        self._inboxes: dict[int, tuple[str, Viewer, asyncio.Queue[Any]]] = {}

    @contextmanager
    def present(self, case_id: str, viewer: Viewer, inbox: asyncio.Queue[Any]) -> Iterator[int]:
        """On the board while the block runs; `inbox` gets a `Viewers` at once and at every
        change. The ticket is for `touch`."""
        ticket = self._presence.join(case_id, viewer)
        self._inboxes[ticket] = (case_id, viewer, inbox)
        self._tell({case_id, *self._presence.sweep()})
        try:
            yield ticket
        finally:
            self._inboxes.pop(ticket, None)
            gone = self._presence.leave(ticket)
            self._tell({gone} if gone else set())

    def touch(self, ticket: int) -> None:
        """A stream's heartbeat: it is still there; drops (and tells about) the stale ones."""
        back: set[str] = set()
        if not self._presence.touch(ticket) and ticket in self._inboxes:
            case_id, viewer, _ = self._inboxes[ticket]  # swept while its writes were stuck
            self._presence.join(case_id, viewer, ticket)
            back.add(case_id)
        self._tell(back | self._presence.sweep())

    def others(self, case_id: str, username: str) -> list[Viewer]:
        self._tell(self._presence.sweep())
        return self._presence.others(case_id, username)

    def _tell(self, case_ids: set[str]) -> None:
        for case_id in case_ids:
            for ticket in self._presence.tickets(case_id):
                if ticket in self._inboxes:
                    _, viewer, inbox = self._inboxes[ticket]
                    others = self._presence.others(case_id, viewer.username)
                    inbox.put_nowait(Viewers(tuple(others)))
