"""Retention (issue #18 item 4): the personal data of a citizen whose cases are all closed for
longer than `CASEDESK_RETENTION_AFTER_CLOSE` is erased, by erasing his data key in the key
service (EraseCitizen, as the case service itself: the key service journals it as `system:case`
with the reason below). Every token of his in the event store, the index, Kafka and the copies
downstream then stays unreadable for good; the cases' non-personal parts stay.

Every `scan_s` (the first worker; several replicas scanning at once are harmless: erasing an
erased subject is answered `already_erased`), built like the auto-closer:

- the scan runs only on a case index that has caught up with the event store when it starts
  (a case the index has not seen yet could be a citizen's new one);
- it reads every row of the index (registration order, pages of `BATCH`) and groups them by the
  subject they name (the sealed subject's or login's token; for an open or recent case that names
  none, the case's own citizen): a subject is due when every one of his cases is CLOSED and
  unchanged for longer than the period; any open or recent case keeps him;
- due subjects are erased in orders of at most 100 (the key service's limit); those erased are
  remembered in memory and not ordered again (a restart orders them once more: harmless).

Cases stored before sealing was on hold no tokens: nothing to erase there (their texts are as
stored); an open one still keeps its citizen's subject.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from casedesk_case.application import CaseApplication
from casedesk_case.application.positions import index_tracking_name
from casedesk_case.application.views import CaseFilter, CaseSummary
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.domain.errors import CaseError
from casedesk_case.domain.values import Status
from casedesk_runtime.logs import get_logger

if TYPE_CHECKING:  # casedesk_keys: imported only with sealing on
    from casedesk_case.application.personal_data import PersonalData

log = get_logger(__name__)

BATCH = 500
MAX_SUBJECTS = 100  # per EraseCitizen order (the key service's limit)
# Erase `subjects` (32 hex digits each) giving `reason`; returns how many were erased now (not
# already before).
Eraser = Callable[[Sequence[str], str], Awaitable[int]]


def reason_for(period: timedelta) -> str:
    """The erasure's reason, kept forever in the key service's journal: the rule, no data."""
    return f"retention: every case of the citizen closed over {period.days} days ago"


class Retention:
    def __init__(
        self,
        app: CaseApplication,
        personal: PersonalData,
        erase: Eraser,
        period: timedelta,
        scan_s: float = 3600.0,
    ) -> None:
        self._app = app
        self._personal = personal
        self._erase = erase
        self._period = period
        self._scan_s = scan_s
        self._erased: set[str] = set()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Scan until stopped; a failing scan (the database or the key service away) is tried
        again next time."""
        while not self._stop.is_set():
            try:
                await self.scan()
            except Exception:
                log.exception("retention scan failed; trying again at the next scan")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._scan_s)

    def stop(self) -> None:
        self._stop.set()

    async def scan(self, now: datetime | None = None) -> int:
        """Erase the subjects due; returns how many were erased by this scan."""
        due = await asyncio.to_thread(self.due, now or datetime.now(UTC))
        due = [s for s in due if s not in self._erased]
        erased = 0
        for start in range(0, len(due), MAX_SUBJECTS):
            chunk = due[start : start + MAX_SUBJECTS]
            erased += await self._erase(chunk, reason_for(self._period))
            self._erased.update(chunk)
        if erased:
            log.info("citizens erased by retention", extra={"erased": erased})
        return erased

    def due(self, now: datetime) -> list[str]:
        """The subjects (32 hex digits) whose every case is closed and unchanged since before
        `now` - period; none while the case index lags behind the event store."""
        at = self._app.index.max_tracking_id(index_tracking_name(self._app.name)) or 0
        unseen = self._app.recorder.select_notifications(
            start=at, limit=1, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )
        if unseen:  # a case event the index has not projected yet
            log.info("retention waits for the case index", extra={"index": at})
            return []
        cutoff = now - self._period
        keeps: dict[str, bool] = {}  # subject -> whether every case of his is due
        token = ""
        while True:
            page = self._app.index.search(CaseFilter(), BATCH, token)
            for row in page.cases:
                old = row.status is Status.CLOSED and row.updated_at <= cutoff
                subject = self._subject(row, old)
                if subject is not None:
                    keeps[subject] = keeps.get(subject, True) and old
            if not page.next_page_token:
                break
            token = page.next_page_token
        return sorted(subject for subject, due in keeps.items() if due)

    def _subject(self, row: CaseSummary, old: bool) -> str | None:
        named = self._personal.subject_in_index(row.subject, row.citizen_login)
        if named is not None:
            return str(named)
        if old:
            return None  # names no token: nothing of it to erase, and it keeps nobody
        try:  # an open or recent case: its citizen keeps his subject, whatever the index shows
            return str(self._personal.subject_of(self._app.get_case(row.case_id).citizen))
        except CaseError:
            return None  # no identifier at all: no subject to keep


def key_service_eraser(channel: object, timeout_s: float = 10.0) -> Eraser:
    """EraseCitizen on the key service, without a person's token: the case service's own
    retention, journaled there as `system:case`."""
    from casedesk_keyservice.client import KeyClient

    return KeyClient(channel, timeout_s).erase_subjects  # type: ignore[arg-type]
