"""The access journal in memory, for the POPO store (tests, demos): the same chain, a list."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from casedesk_case.application.views import AccessFilter
from casedesk_case.domain.access_journal import AccessEntry, AccessRecord, chain


class InMemoryAccessJournal:
    def __init__(self) -> None:
        self._records: list[AccessRecord] = []
        self._lock = threading.Lock()

    def create_table(self) -> None:
        pass

    def append(self, entries: Sequence[AccessEntry]) -> list[AccessRecord]:
        with self._lock:
            records = chain(self._records[-1] if self._records else None, entries)
            self._records.extend(records)
            return records

    def search(self, criteria: AccessFilter, after_sequence: int, limit: int) -> list[AccessRecord]:
        with self._lock:
            found = [
                r for r in self._records[after_sequence:] if _matches(r, criteria)
            ]  # records are numbered from 1 without gaps: index = sequence - 1
        return found[:limit]


def _matches(record: AccessRecord, criteria: AccessFilter) -> bool:
    entry = record.entry
    return (
        (not criteria.case_id or entry.case_id == criteria.case_id)
        and (not criteria.person or entry.person == criteria.person)
        and (criteria.since is None or entry.at >= criteria.since)
        and (criteria.until is None or entry.at < criteria.until)
    )
