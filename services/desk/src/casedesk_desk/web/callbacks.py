"""«Перезвонить»: the callback tasks' page and its event stream (the queue's stream, judged by
whether each changed case owes a callback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from casedesk_desk.application.live_queue import RowUpdate
from casedesk_desk.domain.callbacks import CallbackList, callback_left, callback_order_key
from casedesk_desk.domain.errors import Refused
from casedesk_desk.domain.queue import QueueRow
from casedesk_desk.domain.words import callback_announcements, callback_purpose_label
from casedesk_desk.web import events
from casedesk_desk.web.app import SECURITY_HEADERS, Desk, query

MAX_POSITION = 200
PAGE = CallbackList()


class CallbackPages:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @staticmethod
    def _row_context(row: QueueRow, now: datetime) -> dict[str, object]:
        return {
            "row": row,
            "left": callback_left(row.callback_due, now),
            "order": callback_order_key(row),
            "purpose": callback_purpose_label(row.callback_purpose),
        }

    async def page(self, request: Request) -> Response:
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, _, token = got
        page_token = request.query_params.get("page", "")
        try:
            page = await self.desk.work.callbacks.tasks(token, page_token)
        except Refused as refusal:
            return self.desk.refusal(request, session, refusal)
        now = datetime.now(UTC)
        return self.desk.render(
            request,
            "callbacks.html",
            {
                "session": session,
                # The case service lists only cases owing a callback; a row it sends without
                # a due time would have nothing to show in the list.
                "rows": [self._row_context(r, now) for r in page.rows if r.callback_due],
                "next_page": page.next_page_token,
                "next_url": f"/callbacks?{query(page=page.next_page_token)}",
            },
        )

    async def live(self, request: Request) -> Response:
        """`row` per change of a case the person may read: its HTML while it owes a callback,
        null once it does not; `end` when the feed ends. Without a session: 204."""
        session = self.desk.session(request)
        if session is None or session.person is None:
            return Response(status_code=204, headers=SECURITY_HEADERS)
        after = request.headers.get("last-event-id") or request.query_params.get("after", "")
        if len(after) > MAX_POSITION:
            after = ""
        feed = self.desk.live.queue.follow(session.session_id, session.person, PAGE, after)
        return events.event_stream(self._events(feed))

    async def _events(self, feed: AsyncIterator[RowUpdate | None]) -> AsyncIterator[str]:
        yield events.RETRY
        row_template = self.desk.templates.get_template("_callback_row.html")
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
                "order": callback_order_key(row),
                "announce": callback_announcements(row.number),
            }
            yield events.event("row", payload, update.position)
        yield events.END
