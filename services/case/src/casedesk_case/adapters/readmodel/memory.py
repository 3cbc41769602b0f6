"""The case index in memory, for the POPO persistence module (tests, demos)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from casedesk_case.adapters.readmodel.page_tokens import decode_page_token, encode_page_token
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.views import CaseFilter, CasePage, CaseSummary
from casedesk_vocabulary.moscow import to_micros


class InMemoryCaseIndex(POPOTrackingRecorder, CaseIndex):
    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, CaseSummary] = {}
        self._loads: dict[str, int] = {}

    def rows(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        with self._database_lock:
            return {i: self._rows[i] for i in case_ids if i in self._rows}

    def write(
        self, rows: Sequence[CaseSummary], load_changes: Mapping[str, int], tracking: Tracking
    ) -> None:
        with self._database_lock:
            current = self._max_tracking_ids[tracking.application_name]
            if current is not None and current >= tracking.notification_id:
                raise IntegrityError(f"case index is already at {current}")
            for row in rows:
                self._rows[row.case_id] = row
            for specialist, change in load_changes.items():
                self._loads[specialist] = self._loads.get(specialist, 0) + change
            self._insert_tracking(tracking)

    def search(self, criteria: CaseFilter, limit: int, page_token: str) -> CasePage:
        after = decode_page_token(page_token)
        with self._database_lock:
            matching = [r for r in self._rows.values() if _matches(r, criteria)]
        matching.sort(key=lambda r: (to_micros(r.registered_at), r.case_id), reverse=True)
        if after is not None:
            matching = [r for r in matching if (to_micros(r.registered_at), r.case_id) < after]
        page = matching[:limit]
        token = encode_page_token(page[-1]) if len(matching) > limit else ""
        return CasePage(page, token)

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        with self._database_lock:
            return {s: self._loads[s] for s in specialist_ids if self._loads.get(s)}

    def reset(self, tracking_name: str) -> None:
        with self._database_lock:
            self._rows.clear()
            self._loads.clear()
            self._max_tracking_ids.pop(tracking_name, None)


def _matches(row: CaseSummary, criteria: CaseFilter) -> bool:
    return (
        (not criteria.citizen_login or row.citizen_login == criteria.citizen_login)
        and (criteria.status is None or row.status is criteria.status)
        and (not criteria.queue or row.queue == criteria.queue)
        and (not criteria.assignee or row.assignee == criteria.assignee)
        and (criteria.channel is None or row.channel is criteria.channel)
    )
