"""What a replay read: which streams, from where, over which window.

An empty table is only useful if it says why it is empty: a stream left out with `--streams`, a
topic that holds nothing in the window asked for, a record file of another stream. The commands
know where each stream came from; the output says it in the table's place.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_replay.sources import EVERYTHING, TimeRange
from casedesk_replay.topics import Stream


@dataclass(frozen=True)
class ReadScope:
    # Stream read -> where from, with its preposition: "on case.events.v1", "in the case event
    # store", "in the record file october.records". A stream not read has no entry.
    origins: dict[Stream, str]
    window: TimeRange | None = EVERYTHING  # None: a record file that does not say what it holds

    def no_events(self, stream: Stream, what: str) -> str:
        """Why no `what` (e.g. "SLA events") were read from `stream`."""
        origin = self.origins.get(stream)
        if origin is None:
            return f"no {what}: the {stream.value} stream was not read (see --streams)"
        return f"no {what} {origin}{self.window_text()}"

    def window_text(self) -> str:
        if self.window is None or self.window == EVERYTHING:
            return ""
        since = self.window.since.isoformat() if self.window.since else "the beginning"
        until = self.window.until.isoformat() if self.window.until else "the end"
        return f" in the window {since} … {until}"
