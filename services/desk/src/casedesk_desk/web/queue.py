"""The queue page and its event stream (the live queue)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from casedesk_desk.application.live_queue import RowUpdate
from casedesk_desk.domain.citizen_search import KIND_CHOICES
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import (
    QUEUE_VIEW_LABELS,
    QueueRow,
    QueueView,
    order_key,
    time_left,
)
from casedesk_desk.domain.queue_filter import QueueFilter
from casedesk_desk.domain.words import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    STATUS_LABELS,
    queue_announcements,
)
from casedesk_desk.web import events
from casedesk_desk.web.app import SECURITY_HEADERS, Desk, query

MAX_POSITION = 200


class QueuePages:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def _row_context(self, row: QueueRow, now: datetime) -> dict[str, object]:
        return {"row": row, "left": time_left(row.clock, now), "order": order_key(row)}

    async def page(self, request: Request) -> Response:
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, person, token = got
        try:
            shown = QueueFilter.parse(request.query_params)
            page = await self.desk.work.queue(
                token, person, shown, request.query_params.get("page", "")
            )
        except Refused as refusal:
            return self.desk.refusal(request, session, refusal)
        now = datetime.now(UTC)
        params = shown.as_params()
        return self.desk.render(
            request,
            "queue.html",
            {
                "session": session,
                "view": shown.view,
                "views": QUEUE_VIEW_LABELS,
                "rows": [self._row_context(row, now) for row in page.rows],
                "shown": shown,
                "no_tier": shown.view is QueueView.TIER and person.tier is None,
                "next_page": page.next_page_token,
                "statuses": STATUS_LABELS,
                "channels": CHANNEL_LABELS,
                "categories": CATEGORY_LABELS,
                "kinds": KIND_CHOICES,  # the citizen search's form
                "live_url": f"/queue/live?{query(**params)}",
                "next_url": f"/queue?{query(**params, page=page.next_page_token)}",
                "done": request.query_params.get("done", ""),
            },
        )

    async def live(self, request: Request) -> Response:
        """The queue page's event stream: `row` per change of a case the person may read (the
        row's HTML when the case belongs on the page, null when it does not), `end` when the feed
        ends. Without a session: 204 (EventSource stops)."""
        session = self.desk.session(request)
        if session is None or session.person is None:
            return Response(status_code=204, headers=SECURITY_HEADERS)
        try:
            shown = QueueFilter.parse(request.query_params)
        except Refused as refusal:
            status = 404 if refusal.kind is RefusalKind.NOT_FOUND else 422
            return Response(refusal.message, status_code=status, headers=SECURITY_HEADERS)
        after = request.headers.get("last-event-id") or request.query_params.get("after", "")
        if len(after) > MAX_POSITION:
            after = ""
        feed = self.desk.live.queue.follow(session.session_id, session.person, shown, after)
        return events.event_stream(self._events(feed))

    async def _events(self, feed: AsyncIterator[RowUpdate | None]) -> AsyncIterator[str]:
        yield events.RETRY
        row_template = self.desk.templates.get_template("_queue_row.html")
        async for update in feed:
            if update is None:
                yield events.HEARTBEAT
                continue
            row = update.row
            html = None
            if update.belongs:
                html = row_template.render(**self._row_context(row, datetime.now(UTC)))
            payload = {
                "case_id": row.case_id,
                "html": html,
                "order": order_key(row),
                "announce": queue_announcements(row.number, row.status),
            }
            yield events.event("row", payload, update.position)
        yield events.END
