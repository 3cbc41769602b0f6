"""The case page, its forms, its event stream and its attachments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from casedesk_desk.application.attachments import AttachmentDamaged
from casedesk_desk.application.ports import CaseChange
from casedesk_desk.application.presence import Viewers
from casedesk_desk.domain.attachments import content_disposition, readable_size, served_media_type
from casedesk_desk.domain.errors import Refused
from casedesk_desk.domain.queue import time_left
from casedesk_desk.domain.sessions import Session
from casedesk_desk.domain.words import DESK_ESCALATION_REASONS, ESCALATION_REASONS, status_label
from casedesk_desk.web import events
from casedesk_desk.web.app import (
    CSRF_REFUSAL,
    SECURITY_HEADERS,
    Desk,
    is_supervisor,
    query,
    viewer,
)
from casedesk_desk.web.case_facts import loop_facts
from casedesk_desk.web.present import card, viewers_text
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

CASE_ACTIONS = (
    *("take", "reply", "note", "clarify", "ready", "close", "escalate", "assign"),
    *("callback", "spam", "merge"),
)
TIER_RANK = {"L1": 1, "L2": 2, "L3": 3}
# A download is the citizen's file, never a page of the desk: nothing in it may run or load.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


class CasePages:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def page(self, request: Request) -> Response:
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, person, token = got
        reveal = request.query_params.get("reveal") == "1"
        case_id = request.path_params["case_id"]
        try:
            page = await self.desk.work.case_page(token, case_id, reveal)
        except Refused as refusal:
            return self.desk.refusal(request, session, refusal)
        case = page.case
        chosen = next(
            (c for c in self.desk.canned if c.key == request.query_params.get("canned")), None
        )
        versions = [case.version, *(item.version for item in page.history)]
        now = datetime.now(UTC)
        return self.desk.render(
            request,
            "case.html",
            {
                "session": session,
                "case": case,
                "history": page.history,
                "timeline_missing": page.timeline_missing,
                "last_version": max(versions),
                "canned": self.desk.canned,
                "reply_text": chosen.text if chosen else "",
                "escalation_tiers": [
                    t for t in ("L2", "L3") if TIER_RANK[t] > TIER_RANK.get(case.tier, 0)
                ],
                "escalation_reasons": [(r, ESCALATION_REASONS[r]) for r in DESK_ESCALATION_REASONS],
                "card": card(case.citizen, reveal),
                "revealed": reveal,
                "clock": page.clock,
                "left": time_left(page.clock, now),
                "facts": loop_facts(case, page.history, now),
                "supervisor": is_supervisor(person),
                "attachments": [(a, readable_size(a.size_bytes)) for a in case.attachments],
                "viewers": viewers_text(self.desk.live.board.others(case.case_id, person.username)),
                "done": request.query_params.get("done", ""),
            },
        )

    async def act(self, request: Request) -> Response:
        desk = self.desk
        session = desk.session(request)
        if session is None or session.person is None:
            return desk.message(request, None, "Сеанс завершён. Войдите снова.", 401)
        fields = await desk.checked_form(request, session)
        if fields is None:
            return desk.message(request, session, CSRF_REFUSAL, 403)
        token = await desk.token_or_none(session)
        if token is None:
            return desk.message(request, None, "Сеанс завершён. Войдите снова.", 401)
        case_id, action = request.path_params["case_id"], request.path_params["action"]
        if action not in CASE_ACTIONS:
            return desk.message(request, session, "Такого действия нет.", 404)
        text = fields.get("text", "")
        if action == "merge":
            return await self._merge(request, session, token, case_id, fields)
        try:
            if action == "callback":
                done = await desk.work.callbacks.record(
                    token, case_id, fields.get("reached", ""), text
                )
            elif action == "spam":
                done = await desk.work.supervision.close_as_spam(token, case_id, text)
            elif action == "escalate":
                to_tier, reason = fields.get("to_tier", ""), fields.get("reason", "")
                done = await desk.work.escalate(token, case_id, to_tier, reason, text)
            elif action == "assign":
                done = await desk.work.reassign(token, case_id, fields.get("specialist_id", ""))
            else:
                done = await desk.work.act(token, case_id, action, text)
        except Refused as refusal:
            return desk.refusal(request, session, refusal)
        if action == "escalate":
            # The case went above the specialist's tier, which he no longer reads: back to work.
            return RedirectResponse(f"/queue?{query(done=done)}", status_code=303)
        return RedirectResponse(f"/cases/{case_id}?{query(done=done)}", status_code=303)

    async def _merge(
        self, request: Request, session: Session, token: str, case_id: str, fields: dict[str, str]
    ) -> Response:
        """Two steps: the number given shows both cases for the supervisor to confirm; the
        confirmation merges and goes to the case the duplicate went into."""
        supervision, reason = self.desk.work.supervision, fields.get("reason", "")
        try:
            if fields.get("confirm") != "yes":
                preview = await supervision.merge_preview(
                    token, case_id, fields.get("target_number", ""), reason
                )
                return self.desk.render(
                    request, "merge_confirm.html", {"session": session, "preview": preview}
                )
            target_id = fields.get("target_case_id", "")
            done = await supervision.merge(token, case_id, target_id, reason)
        except Refused as refusal:
            return self.desk.refusal(request, session, refusal)
        return RedirectResponse(
            f"/cases/{quote(target_id, safe='')}?{query(done=done)}", status_code=303
        )

    async def live(self, request: Request) -> Response:
        """The case page's event stream: `change` per case event, `presence` when the other
        viewers change, `end` when the feed ends. Without a session: 204, which tells
        EventSource not to reconnect."""
        session = self.desk.session(request)
        if session is None or session.person is None:
            return Response(status_code=204, headers=SECURITY_HEADERS)
        case_id = request.path_params["case_id"]
        # After a dropped connection EventSource sends the last `id:` it saw.
        after = max(
            _version(request.query_params.get("after")),
            _version(request.headers.get("last-event-id")),
        )
        feed = self.desk.live.case.follow(
            session.session_id, viewer(session.person), case_id, after
        )
        return events.event_stream(self._events(feed))

    async def _events(self, feed: AsyncIterator[CaseChange | Viewers | None]) -> AsyncIterator[str]:
        yield events.RETRY
        item_template = self.desk.templates.get_template("_history_item.html")
        async for got in feed:
            if got is None:
                yield events.HEARTBEAT
            elif isinstance(got, Viewers):
                yield events.event("presence", {"text": viewers_text(list(got.others))})
            else:
                payload: dict[str, Any] = {
                    "version": got.item.version,
                    "html": item_template.render(item=got.item),
                    "status": status_label(got.status) if got.status else None,
                    "assignee": None if got.assignee is None else got.assignee or "—",
                    "tier": got.tier,
                }
                yield events.event("change", payload, str(got.item.version))
        yield events.END

    async def attachment(self, request: Request) -> Response:
        """The attachment as a download (intake decrypts it for this person, journaled)."""
        got = await self.desk.signed_in(request)
        if isinstance(got, Response):
            return got
        session, _, token = got
        case_id, attachment_id = (
            request.path_params["case_id"],
            request.path_params["attachment_id"],
        )
        try:
            opened = await self.desk.attachments.open(token, case_id, attachment_id)
        except Refused as refusal:
            return self.desk.refusal(request, session, refusal)
        headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": DOWNLOAD_CSP,
            "Content-Disposition": content_disposition(opened.info.file_name),
        }
        return StreamingResponse(
            _broken_off_logged(opened.chunks, attachment_id),
            media_type=served_media_type(opened.info.media_type),
            headers=headers,
        )


async def _broken_off_logged(
    chunks: AsyncIterator[bytes], attachment_id: str
) -> AsyncIterator[bytes]:
    """The content; a failure after the first byte can only break the download off (the
    browser then reports it failed), and is logged here without the file's name."""
    try:
        async for chunk in chunks:
            yield chunk
    except (AttachmentDamaged, Refused) as exc:
        log.error("download of attachment %s broken off: %s", attachment_id, exc)
        raise


def _version(value: str | None) -> int:
    """A case version from the query or Last-Event-ID; anything else counts as 0 (from the
    start: the page ignores lines it already shows)."""
    if value is None or not value.isdigit() or len(value) > 18:
        return 0
    return int(value)
