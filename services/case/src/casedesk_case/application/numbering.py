"""Handing out case numbers fast: blocks of serials reserved per replica.

Reserving a block is one small transaction on the year's counter; the numbers of a block are then
handed out from memory. Serials of a block that a replica never used (it stopped) are skipped, so
numbers are unique and increasing per replica, but not gap-free.

When half of a block is used the next one is reserved in the background, so a command never
waits for that transaction (the command pipeline decides every command on one thread: a wait
there would hold up every command queued behind it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from casedesk_case.domain.numbers import YearCounter, format_number
from casedesk_vocabulary.moscow import MOSCOW

_MAX_RESERVE_ATTEMPTS = 20


class CaseNumberAllocator:
    def __init__(self, app: Application, block_size: int = 50) -> None:
        if block_size < 1:
            raise ValueError("number block size must be at least 1")
        self._app = app
        self._block_size = block_size
        self._lock = threading.Lock()
        self._year: int | None = None
        self._serials: Iterator[int] = iter(())
        self._left = 0  # serials not yet handed out of the current block
        self._next: tuple[int, range] | None = None  # (year, block) reserved in advance
        self._reserving = False

    def next_number(self, registered_at: datetime) -> str:
        # The year of a number is the year in Moscow, where the support desk works.
        year = registered_at.astimezone(MOSCOW).year
        with self._lock:
            if year != self._year:
                self._year, self._serials, self._left = year, iter(()), 0
            serial = next(self._serials, None)
            if serial is None:
                block = self._take_reserved(year) or self._reserve_block(year)
                self._serials, self._left = iter(block), len(block)
                serial = next(self._serials)
            self._left -= 1
            if self._left <= self._block_size // 2 and self._next is None and not self._reserving:
                self._reserving = True
                threading.Thread(
                    target=self._reserve_ahead, args=(year,), name="case-numbers", daemon=True
                ).start()
        return format_number(year, serial)

    def _take_reserved(self, year: int) -> range | None:
        reserved, self._next = self._next, None
        return reserved[1] if reserved is not None and reserved[0] == year else None

    def _reserve_ahead(self, year: int) -> None:
        try:
            block = self._reserve_block(year)
        except Exception:  # the next command reserves in line instead, and reports the error
            block = None
        with self._lock:
            self._reserving = False
            if block is not None and year == self._year:
                self._next = (year, block)

    def _reserve_block(self, year: int) -> range:
        counter_id = YearCounter.create_id(year)
        for _ in range(_MAX_RESERVE_ATTEMPTS):
            try:
                counter: YearCounter = self._app.repository.get(counter_id)
            except AggregateNotFoundError:
                counter = YearCounter(year=year)
            block = counter.reserve(self._block_size)
            try:
                self._app.save(counter)
            except IntegrityError:
                continue  # another replica reserved the same block first: read again
            return block
        raise RuntimeError(f"could not reserve case numbers for {year}: too much contention")
