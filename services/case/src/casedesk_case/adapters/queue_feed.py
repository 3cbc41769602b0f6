"""WatchQueue: the case log as the desk's live queue, one batch of changes at a time.

A stream's position is a notification id of the case log (the outbox): the stream reads the case
events stored after it, whichever replica stored them, so a desk that reconnects with the last
position it received misses nothing and gets nothing twice. The watch feed (watch_feed.py) only
says when to look.

Each change carries the case's summary once the event is in it. The case index follows the log
a little behind (paced, and another replica may be the one projecting), so the summary is built
here with the index's own projection (`project`): the indexed row, brought forward by the events
it has not seen yet, read from the store. A row the index already moved past an event is sent as
it is: the case as it is now, with every later event still to come as its own change.

Who gets a change is the read rule's (PersonReads.queue_changes), on the case's tier as the
newest summary at hand says: a case escalated above a reader's tiers stops reaching him with the
escalation itself, which he gets without the case's content, to drop the case from his queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from casedesk_case.adapters.readmodel.projector import project
from casedesk_case.application import CaseApplication
from casedesk_case.application.command import parse_case_id
from casedesk_case.application.person_reads import Reader
from casedesk_case.application.views import CaseSummary, QueueChange
from casedesk_case.domain.case import CASE_EVENT_TOPICS, Case
from casedesk_case.domain.errors import InvalidCommand


class CaseQueueFeed:
    def __init__(self, app: CaseApplication, batch_size: int = 500) -> None:
        self._app = app
        self._batch_size = batch_size

    def start_position(self, after: int | None) -> int:
        """Where a stream starts: after `after`, or after everything stored so far."""
        latest = self._app.recorder.max_notification_id() or 0
        if after is None:
            return latest
        if after > latest:
            raise InvalidCommand(
                "after_position",
                "is ahead of the case log: not a position this service sent; watch without it",
            )
        return after

    def changes_after(self, reader: Reader, position: int) -> tuple[list[QueueChange], int, bool]:
        """The next batch of changes after `position` that the reader may see, journaled as his
        reads; the position after the batch; whether more may be stored already."""
        notifications = self._app.recorder.select_notifications(
            position, self._batch_size, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )
        if not notifications:
            return [], position, False
        events = [self._app.event_of(n) for n in notifications]
        summaries, latest = self._summaries(events)
        changes = [
            QueueChange(
                notification.id, type(event).__name__, summary,
                escalated_from=event.from_tier if isinstance(event, Case.Escalated) else None,
            )
            for notification, event, summary in zip(notifications, events, summaries, strict=True)
            if summary is not None
        ]  # fmt: skip
        tiers_now = {case_id: row.tier for case_id, row in latest.items() if row is not None}
        sent = self._app.person_reads.queue_changes(reader, changes, tiers_now)
        return sent, notifications[-1].id, len(notifications) >= self._batch_size

    def _summaries(
        self, events: Sequence[Any]
    ) -> tuple[list[CaseSummary | None], dict[str, CaseSummary | None]]:
        """Each event's case summary with that event in it (or later ones too), and each case's
        newest summary known (whose tier decides who reads the case's changes)."""
        rows: dict[str, CaseSummary | None] = {}
        rows.update(self._app.index.summaries({str(e.originator_id) for e in events}))
        summaries: list[CaseSummary | None] = []
        for event in events:
            case_id, version = str(event.originator_id), event.originator_version
            row = rows.get(case_id)
            if row is None or row.version < version - 1:
                row = self._caught_up(case_id, row, version - 1)
            if row is None or row.version < version:
                row = project(row, event)
            rows[case_id] = row
            summaries.append(row)
        return summaries, rows

    def _caught_up(self, case_id: str, row: CaseSummary | None, version: int) -> CaseSummary | None:
        """`row` brought forward to `version` by the stored events the index has not seen."""
        after = row.version if row is not None else None
        for event in self._app.events.get(parse_case_id(case_id), gt=after, lte=version):
            row = project(row, event)
        return row
