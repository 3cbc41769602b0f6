"""People's reads of cases: whether they see the case at all, and a journal record of each read.

A case the person may not see is answered exactly as a missing one: the same `CaseNotFound`
naming what the request named, decided before anything else about the case is looked at, so no
answer (nor its message) tells a hidden case from one that does not exist. A person who sees no
case at all is answered before the store is read, so not even the time taken tells.

Each read that returned a case's data appends one record per case to the access journal before
the data leaves (a journal that cannot be written fails the read): GetCase, GetHistory (per
page), WatchCase (when the stream starts) one record, ListCases one record per case on the page.
A ListCases page without cases records nothing: no case was read, and the criteria (a citizen's
login, say) are personal data the journal does not keep.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from casedesk_case.application.ports import AccessJournal
from casedesk_case.application.views import (
    AccessFilter,
    AccessPage,
    CaseFilter,
    CasePage,
    CaseView,
    HistoryPage,
)
from casedesk_case.domain.access_journal import AccessEntry, AccessRecord, ChainCheck, verify_chain
from casedesk_case.domain.errors import CaseNotFound, InvalidCommand
from casedesk_case.domain.person_rules import Person, check_may_audit, may_read, reads_cases
from casedesk_case.domain.values import Tier

if TYPE_CHECKING:
    from casedesk_case.application.queries import CaseQueries

DEFAULT_PURPOSE = "case work"
MAX_RECORDS_PAGE = 1000


@dataclass(frozen=True)
class Reader:
    """Who reads, why, and through which service identity (desk, operator, intake)."""

    person: Person
    caller: str
    purpose: str = DEFAULT_PURPOSE


class PersonReads:
    def __init__(
        self,
        queries: CaseQueries,
        journal: AccessJournal,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._queries = queries
        self._journal = journal
        self._clock = clock

    def get_case(
        self,
        reader: Reader,
        case_id: str,
        *,
        as_of_version: int | None = None,
        as_of_time: datetime | None = None,
    ) -> CaseView:
        self._check_sees_any(reader, case_id)
        if as_of_version is None and as_of_time is None:
            view = self._queries.get_case(case_id)
            self._check_sees(reader, view.tier, case_id)
        else:
            self._check_sees(reader, self._queries.current_tier(case_id), case_id)
            view = self._queries.get_case(
                case_id, as_of_version=as_of_version, as_of_time=as_of_time
            )
        self._record(reader, "GetCase", [view.case_id])
        return view

    def get_case_by_number(
        self,
        reader: Reader,
        number: str,
        *,
        as_of_version: int | None = None,
        as_of_time: datetime | None = None,
    ) -> CaseView:
        self._check_sees_any(reader, number)
        case_id = self._queries.case_id_of(number)
        self._check_sees(reader, self._queries.current_tier(case_id), number)
        view = self._queries.get_case(case_id, as_of_version=as_of_version, as_of_time=as_of_time)
        self._record(reader, "GetCase", [view.case_id])
        return view

    def history(
        self, reader: Reader, case_id: str, *, after_version: int = 0, page_size: int = 100
    ) -> HistoryPage:
        self._check_sees_any(reader, case_id)
        self._check_sees(reader, self._queries.current_tier(case_id), case_id)
        page = self._queries.history(case_id, after_version=after_version, page_size=page_size)
        self._record(reader, "GetHistory", [case_id])
        return page

    def list_cases(
        self, reader: Reader, criteria: CaseFilter, *, page_size: int = 50, page_token: str = ""
    ) -> CasePage:
        if not reads_cases(reader.person):
            return CasePage([], "")  # not even whether more pages exist
        page = self._queries.list_cases(criteria, page_size=page_size, page_token=page_token)
        visible = [s for s in page.cases if may_read(reader.person, s.tier)]
        self._record(reader, "ListCases", [s.case_id for s in visible])
        return CasePage(visible, page.next_page_token)

    def start_watch(self, reader: Reader, case_id: str) -> None:
        """Before a WatchCase stream: the same answer as GetCase's, and the journal record."""
        self._check_sees_any(reader, case_id)
        self._check_sees(reader, self._queries.current_tier(case_id), case_id)
        self._record(reader, "WatchCase", [case_id])

    def access_records(
        self, person: Person, criteria: AccessFilter, *, page_size: int = 100, page_token: str = ""
    ) -> AccessPage:
        """The journal for an auditor, in the order it was written."""
        check_may_audit(person)
        if page_size < 0:
            raise InvalidCommand("page_size", "must not be negative")
        if criteria.since and criteria.until and criteria.until <= criteria.since:
            raise InvalidCommand("until", "must be later than since")
        size = min(page_size or 100, MAX_RECORDS_PAGE)
        found = self._journal.search(criteria, _after(page_token), size + 1)
        page = found[:size]
        token = _token(page[-1].sequence) if len(found) > size else ""
        return AccessPage(page, token)

    def verify_journal(self, batch: int = MAX_RECORDS_PAGE) -> ChainCheck:
        """Walk the whole journal and check its hash chain (the first break, if any)."""
        last: AccessRecord | None = None
        checked = 0
        while True:
            page = self._journal.search(AccessFilter(), last.sequence if last else 0, batch)
            check = verify_chain(page, after=last)
            checked += check.records
            if not check.intact or len(page) < batch:
                return ChainCheck(checked, check.last_hash, check.broken_at, check.problem)
            last = page[-1]

    def _check_sees_any(self, reader: Reader, reference: str) -> None:
        # Before the store is asked anything: a person who sees no case is answered as fast for
        # an existing case as for a missing one.
        if not reads_cases(reader.person):
            raise CaseNotFound(reference)

    def _check_sees(self, reader: Reader, tier: Tier, reference: str) -> None:
        if not may_read(reader.person, tier):
            raise CaseNotFound(reference)  # exactly what a missing case answers

    def _record(self, reader: Reader, rpc: str, case_ids: Sequence[str]) -> None:
        at = self._clock()
        person = reader.person
        self._journal.append([
            AccessEntry(at, person.username, person.role_label(), case_id, reader.purpose,
                        reader.caller, rpc)
            for case_id in case_ids
        ])  # fmt: skip


def _token(sequence: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([sequence]).encode()).decode()


def _after(token: str) -> int:
    if not token:
        return 0
    try:
        (sequence,) = json.loads(base64.urlsafe_b64decode(token.encode()))
        return max(0, int(sequence))
    except (ValueError, TypeError):
        raise InvalidCommand("page_token", "is not a token from a previous page") from None
