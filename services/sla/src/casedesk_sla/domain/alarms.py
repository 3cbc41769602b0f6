"""The queue of upcoming alarms: one binary heap of plain integers, invalidated lazily.

Each running clock has exactly one pending alarm, its warning or else its breach. An alarm is
packed into one int, `(instant << 32) | (slot << 1) | kind`, so the heap holds a million entries
as a list of ints (about 44 bytes each) rather than tuples of boxed values, and ordering by the
int orders by instant. A pause, a met clock or a new due instant does not search the heap: the
stale entry stays and is dropped when it surfaces, because it no longer matches the clock's state.
When stale entries outnumber live ones the heap is rebuilt, so it never grows without bound.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from enum import IntEnum

from casedesk_sla.domain.instants import Micros

# The low 32 bits hold `slot << 1 | kind`.
MAX_SLOT = (1 << 31) - 1


class AlarmKind(IntEnum):
    WARNING = 0
    BREACH = 1


class AlarmQueue:
    def __init__(self) -> None:
        self._heap: list[int] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, at: Micros, slot: int, kind: AlarmKind) -> None:
        heapq.heappush(self._heap, _pack(at, slot, kind))

    def next_at(self) -> Micros | None:
        return self._heap[0] >> 32 if self._heap else None

    def pop_before(self, until: Micros) -> tuple[Micros, int, AlarmKind] | None:
        """Remove and return the earliest alarm strictly before `until`, if there is one."""
        heap = self._heap
        if not heap or heap[0] >> 32 >= until:
            return None
        return _unpack(heapq.heappop(heap))

    def rebuild(self, alarms: Iterable[tuple[Micros, int, AlarmKind]]) -> None:
        self._heap = [_pack(at, slot, kind) for at, slot, kind in alarms]
        heapq.heapify(self._heap)


def _pack(at: Micros, slot: int, kind: AlarmKind) -> int:
    if not 0 <= slot <= MAX_SLOT:
        raise OverflowError(f"clock slot {slot} does not fit an alarm")
    return (at << 32) | (slot << 1) | kind


def _unpack(packed: int) -> tuple[Micros, int, AlarmKind]:
    low = packed & 0xFFFFFFFF
    return packed >> 32, low >> 1, AlarmKind(low & 1)
