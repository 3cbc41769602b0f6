"""Case numbers: `2026-0001234`, a per-year serial that is unique across replicas.

Each year has a YearCounter aggregate. A replica reserves a block of serials by recording
BlockReserved on it; the event store's (originator_id, version) uniqueness makes two replicas that
reserve at once conflict, and the loser retries with the counter's new state. Every number given to
a case is also claimed by a NumberClaim, saved with the case: its id follows from the number, so
even a bug that handed out a number twice would be stopped by the store, and a case is found by
its number with one read.
"""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from casedesk_case.domain.errors import InvalidCommand

_CLAIM_NAMESPACE = UUID("6f1b1c9e-3c55-4d6a-9a43-2b7d7e0c5a10")
_COUNTER_NAMESPACE = UUID("0d4f9b52-8f0e-4b8e-a5a7-4c6f3f0b7d21")
_NUMBER = re.compile(r"^(\d{4})-(\d{7,})$")


def claim_id_for(number: str) -> UUID:
    return uuid5(_CLAIM_NAMESPACE, number)


def format_number(year: int, serial: int) -> str:
    return f"{year:04d}-{serial:07d}"


def parse_number(number: str) -> tuple[int, int]:
    match = _NUMBER.match(number)
    if match is None:
        raise InvalidCommand("number", "expected a case number like 2026-0001234")
    return int(match.group(1)), int(match.group(2))


class YearCounter(Aggregate):
    """Serials handed out for one year, in blocks."""

    TOPIC = "casedesk.case.YearCounter"

    @staticmethod
    def create_id(year: int) -> UUID:  # type: ignore[override]
        return uuid5(_COUNTER_NAMESPACE, str(year))

    @event("Created", topic="casedesk.case.YearCounter.Created")
    def __init__(self, year: int) -> None:
        self.year = year
        self.next_serial = 1

    def reserve(self, size: int) -> range:
        """Reserve the next `size` serials and return them."""
        if size < 1:
            raise ValueError("a block holds at least one serial")
        first = self.next_serial
        self._block_reserved(first, size)
        return range(first, first + size)

    @event("BlockReserved", topic="casedesk.case.YearCounter.BlockReserved")
    def _block_reserved(self, first: int, size: int) -> None:
        self.next_serial = first + size


class NumberClaim(Aggregate):
    """A case number, taken by the case it names."""

    TOPIC = "casedesk.case.NumberClaim"

    @staticmethod
    def create_id(number: str) -> UUID:  # type: ignore[override]
        return claim_id_for(number)

    @event("Created", topic="casedesk.case.NumberClaim.Created")
    def __init__(self, number: str, case_id: str) -> None:
        self.number = number
        self.case_id = case_id
