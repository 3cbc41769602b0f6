"""The case index in memory, for the POPO persistence module (tests, demos).

It answers exactly as the SQL index does. The SQL index reads the SLA clocks from the `case_sla`
table next to it; here they come from a `CaseTimeline` given with `read_clocks_from` (without
one, no case has a clock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from casedesk_case.adapters.readmodel.page_tokens import (
    decode_page_token,
    encode_page_token,
    sort_key,
)
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.timeline import CaseTimeline, ClockState, SlaClock
from casedesk_case.application.views import (
    CaseFilter,
    CaseOrder,
    CasePage,
    CaseSummary,
    CaseTerm,
    DeskLoad,
    ErasedKey,
    QueueLoad,
    SpecialistLoad,
)
from casedesk_case.domain.lifecycle import OPEN_WORK
from casedesk_case.domain.values import Status, Tier


class InMemoryCaseIndex(POPOTrackingRecorder, CaseIndex):
    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, CaseSummary] = {}
        self._loads: dict[str, int] = {}
        self._terms: dict[str, dict[str, CaseTerm]] = {}  # search term -> case id -> term
        self._erased: dict[tuple[str, int], int] = {}  # (subject, generation) -> position
        self._sealed_since: datetime | None = None
        self._clocks: CaseTimeline | None = None

    def read_clocks_from(self, timeline: CaseTimeline) -> None:
        """Where the SLA clocks come from (the SQL index joins the `case_sla` table instead)."""
        self._clocks = timeline

    def rows(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        with self._database_lock:
            return {i: self._rows[i] for i in case_ids if i in self._rows}

    def summaries(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        return {row.case_id: row for row in self._with_clocks(self.rows(case_ids).values())}

    def write(
        self,
        rows: Sequence[CaseSummary],
        load_changes: Mapping[str, int],
        tracking: Tracking,
        terms: Sequence[CaseTerm] = (),
    ) -> None:
        with self._database_lock:
            current = self._max_tracking_ids[tracking.application_name]
            if current is not None and current >= tracking.notification_id:
                raise IntegrityError(f"case index is already at {current}")
            for row in rows:
                self._rows[row.case_id] = replace(row, clock=None)
            for specialist, change in load_changes.items():
                self._loads[specialist] = self._loads.get(specialist, 0) + change
            for term in terms:
                if not self._covered(term):
                    self._terms.setdefault(term.term, {}).setdefault(term.case_id, term)
            self._insert_tracking(tracking)

    def forget_erased(self, erasures: Sequence[ErasedKey]) -> int:
        deleted = 0
        with self._database_lock:
            for erasure in erasures:
                self._erased.setdefault((erasure.subject, erasure.generation), erasure.position)
            for term, cases in list(self._terms.items()):
                for case_id, kept in list(cases.items()):
                    if self._covered(kept):
                        del cases[case_id]
                        deleted += 1
                if not cases:
                    del self._terms[term]
        return deleted

    def erasure_position(self) -> int:
        with self._database_lock:
            return max(self._erased.values(), default=0)

    def sealed_since(self) -> datetime | None:
        return self._sealed_since

    def mark_sealed(self, since: datetime) -> None:
        with self._database_lock:
            self._sealed_since = self._sealed_since or since

    def _covered(self, term: CaseTerm) -> bool:
        """An erasure remembered destroyed the key of the term's citizen (the SQL's guard)."""
        return bool(term.subject) and any(
            subject == term.subject and generation >= term.generation
            for subject, generation in self._erased
        )

    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        return self._clocks.clocks(case_ids) if self._clocks is not None else {}

    def answered_before(self, cutoff: datetime, limit: int) -> list[tuple[str, int]]:
        with self._database_lock:
            waiting = [
                r for r in self._rows.values()
                if r.status is Status.ANSWER_READY and r.updated_at <= cutoff
            ]  # fmt: skip
        waiting.sort(key=lambda r: (r.updated_at, r.case_id))
        return [(r.case_id, r.version) for r in waiting[:limit]]

    def search(self, criteria: CaseFilter, limit: int, page_token: str) -> CasePage:
        order = criteria.order
        after = decode_page_token(page_token, order)
        with self._database_lock:
            found = self._terms.get(criteria.citizen_term, {}) if criteria.citizen_term else None
            matching = [
                r for r in self._rows.values()
                if _matches(r, criteria) and (found is None or r.case_id in found)
            ]  # fmt: skip
        newest_first = order is CaseOrder.REGISTRATION
        matching = self._with_clocks(matching)
        matching.sort(key=lambda r: sort_key(r, order), reverse=newest_first)
        if after is not None:
            matching = [
                r for r in matching
                if (sort_key(r, order) < after if newest_first else sort_key(r, order) > after)
            ]  # fmt: skip
        page = matching[:limit]
        token = encode_page_token(page[-1], order) if len(matching) > limit else ""
        return CasePage(page, token)

    def desk_load(self, roster_ids: frozenset[str]) -> DeskLoad:
        with self._database_lock:
            open_rows = [r for r in self._rows.values() if r.status in OPEN_WORK]
        queues: dict[tuple[Tier, str], list[int]] = {}
        for row in self._with_clocks(open_rows):
            counts = queues.setdefault((row.tier, row.queue), [0, 0, 0])
            counts[0] += 1
            counts[1] += not row.assignee or row.assignee in roster_ids
            counts[2] += row.clock is not None and row.clock.state is ClockState.BREACHED
        held = Counter(r.assignee for r in open_rows if r.assignee)
        waiting = Counter(
            r.assignee for r in open_rows if r.assignee and r.status is Status.WAITING_FOR_CITIZEN
        )
        return DeskLoad(
            [QueueLoad(tier, queue, *counts)
             for (tier, queue), counts in sorted(queues.items())],
            [SpecialistLoad(who, count, waiting[who])
             for who, count in sorted(held.items(), key=lambda item: (-item[1], item[0]))],
        )  # fmt: skip

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        with self._database_lock:
            return {s: self._loads[s] for s in specialist_ids if self._loads.get(s)}

    def reset(self, tracking_name: str) -> None:
        with self._database_lock:
            self._rows.clear()
            self._loads.clear()
            self._terms.clear()
            self._max_tracking_ids.pop(tracking_name, None)

    def _with_clocks(self, rows: Iterable[CaseSummary]) -> list[CaseSummary]:
        rows = list(rows)
        if self._clocks is None or not rows:
            return rows
        clocks = self._clocks.clocks([r.case_id for r in rows])
        return [replace(r, clock=clocks.get(r.case_id)) for r in rows]


def _matches(row: CaseSummary, criteria: CaseFilter) -> bool:
    statuses = {criteria.status} if criteria.status else OPEN_WORK if criteria.open_only else None
    return (
        (not criteria.citizen_login or row.citizen_login == criteria.citizen_login)
        and (statuses is None or row.status in statuses)
        and (not criteria.queue or row.queue == criteria.queue)
        and (
            not criteria.assignee
            or row.assignee == criteria.assignee
            or row.assignee in criteria.assignee_slots
        )
        and (criteria.channel is None or row.channel is criteria.channel)
        and (criteria.tier is None or row.tier is criteria.tier)
        and (criteria.within_tiers is None or row.tier in criteria.within_tiers)
        and (criteria.category is None or row.category is criteria.category)
        and (not criteria.unassigned or not row.assignee or row.assignee in criteria.roster_ids)
        and (not criteria.callback_owed or row.callback is not None)
    )
