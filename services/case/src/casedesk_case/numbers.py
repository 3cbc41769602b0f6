"""Handing out case numbers fast: blocks of serials reserved per replica.

Reserving a block is one small transaction on the year's counter; the numbers of a block are then
handed out from memory. Serials of a block that a replica never used (it stopped) are skipped, so
numbers are unique and increasing per replica, but not gap-free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from casedesk_case.domain.numbers import YearCounter, format_number

MOSCOW = ZoneInfo("Europe/Moscow")
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

    def next_number(self, registered_at: datetime) -> str:
        # The year of a number is the year in Moscow, where the support desk works.
        year = registered_at.astimezone(MOSCOW).year
        with self._lock:
            if year != self._year:
                self._year, self._serials = year, iter(())
            serial = next(self._serials, None)
            if serial is None:
                self._serials = iter(self._reserve_block(year))
                serial = next(self._serials)
        return format_number(year, serial)

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
