"""Keeping the case index up to date from the notification log, in batches."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError, Tracking

from casedesk_case.application.personal_fields import index_login
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.positions import index_tracking_name
from casedesk_case.application.views import CaseSummary, CaseTerm
from casedesk_case.domain import callbacks
from casedesk_case.domain.case import CASE_EVENT_TOPICS, Case
from casedesk_case.domain.lifecycle import OPEN_WORK
from casedesk_case.domain.values import Status
from casedesk_runtime.following import Doorbell, follow

if TYPE_CHECKING:
    from casedesk_case.application import CaseApplication


def project(row: CaseSummary | None, event: Any) -> CaseSummary | None:
    """The index row after `event`; None while the case has no row (its creation unseen)."""
    if isinstance(event, Case.Created):
        return CaseSummary(
            case_id=str(event.originator_id),
            number=event.number,
            version=event.originator_version,
            status=Status.REGISTERED,
            channel=event.channel,
            queue=event.queue,
            assignee="",
            tier=event.tier,
            subject=event.content.subject,
            # A sealed login is kept as the subject its token names (personal_data.py).
            citizen_login=index_login(event.citizen.account_login),
            registered_at=event.timestamp,
            updated_at=event.timestamp,
            category=event.category,
            callback=callbacks.owed_on_registration(event.channel, event.timestamp),
        )
    if row is None:
        return None
    at = event.timestamp
    row = replace(row, version=event.originator_version, updated_at=at)
    # The callback owed follows the case's own rules (domain/callbacks.py).
    if isinstance(event, Case.StatusChanged):
        owed = callbacks.owed_after_status(row.callback, row.channel, event.to_status, at)
        return replace(row, status=event.to_status, callback=owed)
    if isinstance(event, Case.Assigned):
        return replace(row, assignee=event.specialist_id, queue=event.queue, tier=event.tier)
    if isinstance(event, Case.Escalated):
        owed = callbacks.owed_after_escalation(
            row.callback, row.channel, event.callback_required, at
        )
        return replace(row, tier=event.to_tier, callback=owed)
    if isinstance(event, Case.CallbackRecorded):
        return replace(row, callback=callbacks.owed_after_callback(row.callback, event.reached))
    return row


def open_work(row: CaseSummary | None) -> dict[str, int]:
    """What a case adds to its assignee's load."""
    if row is None or not row.assignee or row.status not in OPEN_WORK:
        return {}
    return {row.assignee: 1}


class CaseIndexProjector:
    def __init__(self, app: CaseApplication, index: CaseIndex, batch_size: int = 500) -> None:
        self._app = app
        self._index = index
        self._batch_size = batch_size
        # The position is kept per follower of the application's log.
        self.tracking_name = index_tracking_name(app.name)
        self.bell = Doorbell()

    async def run(self, idle_s: float = 0.2, pace_s: float = 0.0) -> None:
        """Follow the log until the bell is closed (see `follow` for the pace)."""
        await follow(
            "case index",
            lambda: asyncio.to_thread(self._step),
            self.bell,
            idle_s,
            pace_s,
            full_step=self._batch_size,
        )

    def position(self) -> int:
        return self._index.max_tracking_id(self.tracking_name) or 0

    def catch_up(self) -> int:
        """Project everything recorded so far; returns how many events were projected."""
        total = 0
        while True:
            try:
                count = self.process_batch()
            except IntegrityError:
                continue  # another projector (replica) wrote this batch: read the position again
            if not count:
                return total
            total += count

    def _step(self) -> int:
        try:
            return self.process_batch()
        except IntegrityError:
            return 1  # another projector (replica) wrote this batch: look again at once

    def process_batch(self) -> int:
        notifications = self._app.recorder.select_notifications(
            start=self.position(),
            limit=self._batch_size,
            topics=CASE_EVENT_TOPICS,
            inclusive_of_start=False,
        )
        if not notifications:
            return 0
        events = [self._app.event_of(n) for n in notifications]
        rows = self._index.rows({str(e.originator_id) for e in events})
        changed: dict[str, CaseSummary] = {}
        load: dict[str, int] = {}
        terms: list[CaseTerm] = []
        for event in events:
            case_id = str(event.originator_id)
            if isinstance(event, Case.Created):
                terms += self._terms_of(case_id, event)
            before = rows.get(case_id)
            after = project(before, event)
            _add(load, open_work(after), +1)
            _add(load, open_work(before), -1)
            if after is not None:
                rows[case_id] = changed[case_id] = after
        self._index.write(
            list(changed.values()),
            {k: v for k, v in load.items() if v},
            Tracking(self.tracking_name, notifications[-1].id),
            terms,
        )
        return len(notifications)

    def _terms_of(self, case_id: str, created: Any) -> list[CaseTerm]:
        """The search terms of a new case's citizen (application/search_terms.py): none without
        the index key. A key that cannot be had now fails the batch, tried again (follow)."""
        search_terms = self._app.search_terms
        if search_terms is None:
            return []
        return search_terms.of_citizen(case_id, created.citizen)

    def rebuild(self) -> int:
        self._index.reset(self.tracking_name)
        return self.catch_up()


def _add(total: dict[str, int], changes: dict[str, int], sign: int) -> None:
    for key, value in changes.items():
        total[key] = total.get(key, 0) + sign * value
