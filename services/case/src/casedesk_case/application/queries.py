"""Read side of the case application: current and historical state, history, the case index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate

from casedesk_case.application.command import parse_case_id
from casedesk_case.application.timeline import ClockState
from casedesk_case.application.views import CaseFilter, CasePage, CaseView, HistoryPage
from casedesk_case.domain.case import Case, comment_of
from casedesk_case.domain.errors import CaseNotFound, InvalidCommand, PreconditionFailed
from casedesk_case.domain.lifecycle import REPEATABLE
from casedesk_case.domain.numbers import NumberClaim, claim_id_for, parse_number
from casedesk_case.domain.values import Tier

if TYPE_CHECKING:
    from eventsourcing.application import Repository
    from eventsourcing.persistence import ApplicationRecorder, EventStore, Mapper

    from casedesk_case.application.ports import CaseIndex
    from casedesk_case.application.search_terms import SearchTerms
    from casedesk_case.domain.assignment import Roster

_COMMENTED = Case.Commented.TOPIC  # type: ignore[attr-defined]
MAX_HISTORY_PAGE = 1000
MAX_LIST_PAGE = 500


class CaseQueries:
    """Mixed into CaseApplication; relies on its repository, event store and case index."""

    repository: Repository[Any]
    events: EventStore[Any]
    recorder: ApplicationRecorder
    mapper: Mapper[Any]
    index: CaseIndex
    roster: Roster
    search_terms: SearchTerms | None

    def get_case(
        self,
        case_id: str,
        *,
        as_of_version: int | None = None,
        as_of_time: datetime | None = None,
    ) -> CaseView:
        """The case now, or as it was at a version or at an instant (not both)."""
        if as_of_version is not None and as_of_time is not None:
            raise InvalidCommand("as_of_time", "give either a version or a time, not both")
        if as_of_version is not None and as_of_version < 1:
            raise InvalidCommand("as_of_version", "versions start at 1")
        target = parse_case_id(case_id)
        if as_of_time is not None:
            return self._as_of_time(target, as_of_time, case_id)
        try:
            case: Any = self.repository.get(target, version=as_of_version)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if not isinstance(case, Case):
            raise CaseNotFound(case_id)
        view = self.view_of(case)
        if as_of_version is None and self.overdue(case):
            view = replace(view, overdue=True)
        return view

    def overdue(self, case: Case) -> bool:
        """Whether the case is not answered yet and the SLA service said one of its deadlines
        passed: a target breached and not met since (the case timeline's current clock is then
        the breached one, its deadline being the nearest). The seed lets the citizen repeat it."""
        if case.status in REPEATABLE:
            return False
        clock = self.index.clocks([str(case.id)]).get(str(case.id))
        return clock is not None and clock.state is ClockState.BREACHED

    def get_case_by_number(
        self,
        number: str,
        *,
        as_of_version: int | None = None,
        as_of_time: datetime | None = None,
    ) -> CaseView:
        return self.get_case(
            self.case_id_of(number), as_of_version=as_of_version, as_of_time=as_of_time
        )

    def case_id_of(self, number: str) -> str:
        """The id of the case with this number (CaseNotFound naming the number)."""
        parse_number(number)
        try:
            claim: Any = self.repository.get(claim_id_for(number))
        except AggregateNotFoundError:
            raise CaseNotFound(number) from None
        assert isinstance(claim, NumberClaim)
        return str(claim.case_id)

    def current_tier(self, case_id: str) -> Tier:
        """The case's tier now (CaseNotFound naming `case_id`): what decides who sees it."""
        target = parse_case_id(case_id)
        try:
            case: Any = self.repository.get(target)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if not isinstance(case, Case):
            raise CaseNotFound(case_id)
        return case.tier

    def history(self, case_id: str, *, after_version: int = 0, page_size: int = 100) -> HistoryPage:
        if page_size < 0 or after_version < 0:
            raise InvalidCommand("page_size", "must not be negative")
        size = min(page_size or 100, MAX_HISTORY_PAGE)
        target = parse_case_id(case_id)
        # One more than asked tells whether another page follows.
        events = list(self.events.get(target, gt=after_version or None, limit=size + 1))
        if not events and not self._exists(target):
            raise CaseNotFound(case_id)
        page = events[:size]
        more = len(events) > size
        return HistoryPage(page, page[-1].originator_version if more else 0)

    def events_after(self, case_id: str, version: int) -> Sequence[Any]:
        """Every stored event of the case with a version greater than `version`."""
        return list(self.events.get(parse_case_id(case_id), gt=version or None))

    def list_cases(
        self, criteria: CaseFilter, *, page_size: int = 50, page_token: str = ""
    ) -> CasePage:
        if page_size < 0:
            raise InvalidCommand("page_size", "must not be negative")
        if criteria.citizen_kind:
            criteria = replace(criteria, citizen_term=self._citizen_term(criteria))
        if criteria.unassigned:
            # A case routed to a roster slot is nobody's until a person takes it.
            criteria = replace(criteria, roster_ids=self.roster_ids())
        if criteria.assignee:
            # A person's own list includes what the roster routed to the slots they work.
            criteria = replace(criteria, assignee_slots=self.roster.ids_of(criteria.assignee))
        return self.index.search(criteria, min(page_size or 50, MAX_LIST_PAGE), page_token)

    def _citizen_term(self, criteria: CaseFilter) -> str:
        """The search term of a lookup by citizen identifier (application/search_terms.py)."""
        if self.search_terms is None:
            raise PreconditionFailed(
                "finding cases by a citizen's SNILS, phone or e-mail needs the index key "
                "(CASEDESK_KEYS_INDEX_KEY_FILE), not configured here"
            )
        return self.search_terms.lookup(criteria.citizen_kind, criteria.citizen_value)

    def roster_ids(self) -> frozenset[str]:
        """The roster's specialist ids: assignees that route a case without anybody holding it
        (domain/assignment.py, `Roster.person_holder`)."""
        return frozenset(s.id for s in self.roster.specialists)

    def _as_of_time(self, target: Any, instant: datetime, reference: str) -> CaseView:
        if instant.tzinfo is None:
            raise InvalidCommand("as_of_time", "needs a time zone")
        # Events carry their own timestamps; replay those that happened up to the instant.
        events: list[Any] = [e for e in self.events.get(target) if e.timestamp <= instant]  # type: ignore[attr-defined]
        if not events:
            if self._exists(target):
                raise CaseNotFound(f"{reference} as of {instant.isoformat()} (registered later)")
            raise CaseNotFound(reference)
        case = project_aggregate(None, events)
        if not isinstance(case, Case):
            raise CaseNotFound(reference)
        return CaseView.of(
            case, tuple(comment_of(e) for e in events if isinstance(e, Case.Commented))
        )

    def view_of(self, case: Case) -> CaseView:
        """The view of a case, its conversation read from its Commented events."""
        return self.with_comments(CaseView.of(case), case.comment_count)

    def with_comments(self, view: CaseView, comment_count: int) -> CaseView:
        """`view` (of a case with `comment_count` comments) with its conversation."""
        if not comment_count:
            return view
        # Only the comments are decoded; other events are skipped by their stored topic.
        stored = self.recorder.select_events(UUID(view.case_id), lte=view.version)
        comments = tuple(
            comment_of(self.mapper.to_domain_event(s)) for s in stored if s.topic == _COMMENTED
        )
        return replace(view, comments=comments)

    def _exists(self, target: Any) -> bool:
        return bool(list(self.events.get(target, limit=1)))
