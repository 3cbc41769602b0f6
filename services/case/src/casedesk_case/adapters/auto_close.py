"""The auto-closer: «Ответ готов» becomes «Закрыта» when the citizen does not react.

Every `scan_s` it asks the case index for cases at ANSWER_READY unchanged for `period`
(`CaseIndex.answered_before`) and asks each case to close itself (`close_without_reaction`,
actor SYSTEM): the case decides (domain/closing.py), so a citizen's comment, an owed callback or
any change the index has not seen yet keeps it open. Nothing is kept in memory but the cases the
case refused at a version (looked at again once they change): a restart starts from the index.

Several replicas may run it at once; none closes a case twice. Each closing carries the case's
version as its expected version and an idempotency key made of the case id and that version: the
first to store wins, a replica that decided on the same version finds its receipt (the same
result), and one that read an older row fails the version check and looks again next scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from casedesk_case.application import CaseApplication, CommandMeta
from casedesk_case.domain.errors import CaseError, PreconditionFailed, VersionConflict
from casedesk_case.domain.values import Actor, ActorKind, EventContext
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

ACTOR = Actor(ActorKind.SYSTEM, "case-auto-close")
BATCH = 200
# Cases the case itself refused at a version (a question or a callback is owed): not asked again
# until they change. Bounded: forgetting one costs a read, never a wrong closing.
MAX_REFUSED = 10_000


def idempotency_key(case_id: str, version: int) -> str:
    return f"auto-close:{case_id}:{version}"


class AutoCloser:
    def __init__(
        self, app: CaseApplication, period: timedelta, scan_s: float = 60.0, batch: int = BATCH
    ) -> None:
        self._app = app
        self._period = period
        self._scan_s = scan_s
        self._batch = batch
        self._refused: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Scan until stopped; a failing scan (the database away) is tried again next time."""
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.scan)
            except Exception:
                log.exception("auto-close scan failed; trying again at the next scan")
            with contextlib.suppress(TimeoutError):  # the next scan is due
                await asyncio.wait_for(self._stop.wait(), self._scan_s)

    def stop(self) -> None:
        self._stop.set()

    def scan(self, now: datetime | None = None) -> int:
        """Close what waited long enough; returns how many cases were closed."""
        now = now or datetime.now(UTC)
        candidates = self._app.index.answered_before(now - self._period, self._batch)
        closed = 0
        for case_id, version in candidates:
            if (case_id, version) not in self._refused:
                closed += self._close(case_id, version, now)
        if closed:
            log.info("cases closed without the citizen's reaction", extra={"closed": closed})
        return closed

    def _close(self, case_id: str, version: int, now: datetime) -> int:
        correlation = str(uuid.uuid4())
        meta = CommandMeta(
            context=EventContext(ACTOR, correlation_id=correlation, causation_id=correlation),
            idempotency_key=idempotency_key(case_id, version),
            expected_version=version,
        )
        try:
            self._app.close_without_reaction(case_id, period=self._period, now=now, meta=meta)
        except VersionConflict:
            return 0  # changed since the index saw it: the next scan sees the change
        except PreconditionFailed:
            self._remember_refused(case_id, version)
            return 0
        except CaseError as error:
            log.warning("auto-close refused", extra={"case_id": case_id, "reason": str(error)})
            self._remember_refused(case_id, version)
            return 0
        return 1

    def _remember_refused(self, case_id: str, version: int) -> None:
        self._refused[(case_id, version)] = None
        while len(self._refused) > MAX_REFUSED:
            self._refused.popitem(last=False)
