"""People's reads of cases: which cases they see (domain/person_rules.py), and a journal record
of each read.

A person who reads no tier at all is answered exactly as for a missing case: the same
`CaseNotFound` naming what the request named, before the store is read, so neither the answer
nor the time taken tells a hidden case from one that does not exist. A specialist asking for a
case above his tier is refused with the rule's reason (`NotPermitted`), on the case's tier now.
ListCases asks the index only for the tiers the person reads, so its pages are never thinned out
afterwards.

Each read that returned a case's data appends one record per case to the access journal before
the data leaves (a journal that cannot be written fails the read): GetCase, GetHistory (per
page), GetCaseTimeline, WatchCase (when the stream starts) one record, ListCases one record per
case on the page, WatchQueue one per summary sent (each batch in one append; a case that went
above the reader's tiers is sent without its content, and not journaled). A ListCases
page without cases records nothing: no case was read, and the criteria (a citizen's login, say)
are personal data the journal does not keep.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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
    QueueChange,
)
from casedesk_case.domain.access_journal import AccessEntry, AccessRecord, ChainCheck, verify_chain
from casedesk_case.domain.errors import CaseNotFound, InvalidCommand, NotPermitted
from casedesk_case.domain.person_rules import (
    EVERY_TIER,
    Person,
    check_may_audit,
    check_may_read,
    may_read,
    readable_tiers,
    reads_cases,
)
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
            check_may_read(reader.person, view.tier)
        else:
            check_may_read(reader.person, self._queries.current_tier(case_id))
            view = self._queries.get_case(
                case_id, as_of_version=as_of_version, as_of_time=as_of_time
            )
        self.record(reader, "GetCase", [view.case_id])
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
        check_may_read(reader.person, self._queries.current_tier(case_id))
        view = self._queries.get_case(case_id, as_of_version=as_of_version, as_of_time=as_of_time)
        self.record(reader, "GetCase", [view.case_id])
        return view

    def history(
        self, reader: Reader, case_id: str, *, after_version: int = 0, page_size: int = 100
    ) -> HistoryPage:
        self.check_reads(reader, case_id)
        page = self._queries.history(case_id, after_version=after_version, page_size=page_size)
        self.record(reader, "GetHistory", [case_id])
        return page

    def list_cases(
        self, reader: Reader, criteria: CaseFilter, *, page_size: int = 50, page_token: str = ""
    ) -> CasePage:
        tiers = readable_tiers(reader.person)
        if not tiers:
            return CasePage([], "")  # not even whether more pages exist
        if criteria.tier is not None:
            check_may_read(reader.person, criteria.tier)
        # In the query, so that a page holds as many cases as asked whenever there are as many.
        limited = replace(criteria, within_tiers=None if tiers == EVERY_TIER else tiers)
        page = self._queries.list_cases(limited, page_size=page_size, page_token=page_token)
        self.record(reader, "ListCases", [s.case_id for s in page.cases])
        return page

    def start_watch(self, reader: Reader, case_id: str) -> None:
        """Before a WatchCase stream: the same answer as GetCase's, and the journal record."""
        self.check_reads(reader, case_id)
        self.record(reader, "WatchCase", [case_id])

    def check_watches_queue(self, reader: Reader) -> None:
        """Before a WatchQueue stream: a person who reads no case has nothing to watch (refused
        as for any case of a tier he does not read, without naming a case)."""
        if not reads_cases(reader.person):
            raise NotPermitted(
                f"{reader.person.describe()} may not watch the queue: reads no case (a specialist "
                "with a tier, a supervisor or an auditor does)"
            )

    def queue_changes(
        self, reader: Reader, changes: Sequence[QueueChange], tiers_now: Mapping[str, Tier]
    ) -> list[QueueChange]:
        """What the person gets of `changes`: those of cases he reads at their tier now (the
        newest the caller knows: `tiers_now`), journaled in one append before they are sent;
        and an escalation that took a case of his tiers above them, without the case's content
        (not journaled: nothing of it is read), so that his queue drops it."""
        sent: list[QueueChange] = []
        read: list[str] = []
        for change in changes:
            case_id = change.summary.case_id
            if may_read(reader.person, tiers_now.get(case_id, change.summary.tier)):
                sent.append(change)
                read.append(case_id)
            elif change.escalated_from and may_read(reader.person, change.escalated_from):
                sent.append(change.without_content())
        self.record(reader, "WatchQueue", read)
        return sent

    def check_reads(self, reader: Reader, case_id: str) -> None:
        """The read rule on the case as it is now (CaseNotFound for a missing case)."""
        self._check_sees_any(reader, case_id)
        check_may_read(reader.person, self._queries.current_tier(case_id))

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

    def record(self, reader: Reader, rpc: str, case_ids: Sequence[str]) -> None:
        """One journal record per case read, in one append; nothing for no case."""
        if not case_ids:
            return
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
