"""How far time may safely advance: the event-time watermark over every consumed partition.

An alarm may fire only once no unread case event could still be older than it. For a partition
the consumer has caught up with, that is the instant the broker last showed it had nothing more
(the consumer passes it: not the present, since an event may have arrived after that answer and
still be unread — a case answered 9 ms before its due instant was breached that way); for one it
is still reading a backlog of (after a restart, after an outage), it is the time of the last event
read there. Timers fire up to
the minimum over all partitions, so a backlog is worked off in event time, as a replay would, and
a case answered at 10:03 is not breached at 10:05 only because its answer was still unread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from casedesk_sla.domain import Micros

PartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Position:
    """Where a partition was consumed up to, and the event time of the last record read there."""

    next_offset: int
    event_time: int


_UNKNOWN = -1


class Watermarks:
    def __init__(self, stored: dict[PartitionKey, Position] | None = None) -> None:
        self._positions: dict[PartitionKey, Position] = dict(stored or {})
        self._caught_up: dict[PartitionKey, bool] = {}
        self._caught_up_as_of: dict[PartitionKey, Micros] = {}
        self._changed: set[PartitionKey] = set()

    def assign(self, partitions: Iterable[PartitionKey]) -> None:
        self._caught_up = {key: False for key in partitions}
        self._caught_up_as_of = {}

    def position(self, key: PartitionKey) -> Position | None:
        return self._positions.get(key)

    def consumed(self, key: PartitionKey, offset: int, event_time: Micros) -> None:
        previous = self._positions.get(key)
        latest = event_time if previous is None else max(previous.event_time, event_time)
        self._positions[key] = Position(offset + 1, latest)
        self._changed.add(key)

    def set_caught_up(
        self, key: PartitionKey, caught_up: bool, as_of: Micros | None = None
    ) -> None:
        """`as_of`: the instant up to which the partition is known to be read whole (the broker's
        last answer, less a margin); None means the present (a source with nothing in flight)."""
        self._caught_up[key] = caught_up
        if caught_up and as_of is not None:
            self._caught_up_as_of[key] = as_of
        else:
            self._caught_up_as_of.pop(key, None)

    def safe_time(self, now: Micros) -> Micros | None:
        """The instant alarms may fire before, or None while some partition is still unknown."""
        if not self._caught_up:
            return None
        safe = now
        for key, caught_up in self._caught_up.items():
            if caught_up:
                safe = min(safe, self._caught_up_as_of.get(key, now))
                continue
            position = self._positions.get(key)
            event_time = position.event_time if position else _UNKNOWN
            if event_time == _UNKNOWN:
                return None
            safe = min(safe, event_time)
        return safe

    def take_changed(self) -> dict[PartitionKey, Position]:
        changed = {key: self._positions[key] for key in self._changed}
        self._changed = set()
        return changed
