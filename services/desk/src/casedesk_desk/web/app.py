"""Routes of the desk (see the README): sign-in and out, the queue, the case page and its forms.

Every POST carries the session's CSRF token (refused with 403 without it); the session cookie is
HttpOnly, SameSite=Lax and Secure when configured; pages are never cached.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.ports import CaseChange, QueueQuery
from casedesk_desk.application.signin import SignIn
from casedesk_desk.application.work import Work
from casedesk_desk.domain.canned import CannedReply
from casedesk_desk.domain.errors import RefusalKind, Refused, SignInFailed
from casedesk_desk.domain.queue import QUEUE_VIEW_LABELS, QueueView, time_left
from casedesk_desk.domain.security import same_secret
from casedesk_desk.domain.sessions import Session, SessionStore
from casedesk_desk.domain.words import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    DESK_ESCALATION_REASONS,
    ESCALATION_REASONS,
    STATUS_LABELS,
    status_label,
)
from casedesk_desk.web.present import card, moscow
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

HERE = Path(__file__).parent
COOKIE = "desk_session"
CSRF_FIELD = "csrf_token"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The callback's URL holds the authorization code: it must not travel on as a Referer.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
}
CASE_ACTIONS = ("take", "reply", "note", "clarify", "ready", "close", "escalate", "assign")
SUPERVISOR_ROLE = "supervisor"
TIER_RANK = {"L1": 1, "L2": 2, "L3": 3}


class Desk:
    def __init__(
        self,
        sessions: SessionStore,
        sign_in: SignIn,
        work: Work,
        cookie_secure: bool,
        *,
        live: LiveCase,
        canned: Sequence[CannedReply] = (),
    ) -> None:
        self.sessions, self.sign_in, self.work = sessions, sign_in, work
        self.cookie_secure = cookie_secure
        self.live, self.canned = live, list(canned)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(
            status_label=status_label,
            channel_label=lambda c: CHANNEL_LABELS.get(c, c),
            category_label=lambda c: CATEGORY_LABELS.get(c, c),
            moscow=moscow,
        )

    # -- plumbing ----------------------------------------------------------------------------

    def render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    def message(
        self, request: Request, session: Session | None, text: str, status: int
    ) -> Response:
        return self.render(
            request, "message.html", {"session": session, "text": text}, status=status
        )

    def set_cookie(self, response: Response, session: Session) -> Response:
        response.set_cookie(
            COOKIE,
            session.session_id,
            httponly=True,
            samesite="lax",
            secure=self.cookie_secure,
            path="/",
        )
        return response

    def to_sign_in(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/auth/login?{_query(next=target)}", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    async def checked_form(self, request: Request, session: Session) -> dict[str, str] | None:
        """The form's fields if it carries this session's CSRF token; None otherwise."""
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not same_secret(session.csrf_token, fields.get(CSRF_FIELD)):
            return None
        return fields

    async def token_or_none(self, session: Session) -> str | None:
        try:
            return await self.sign_in.access_token(session)
        except SignInFailed as exc:
            log.info("session ended: %s", exc)
            return None

    # -- sign-in -------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        session = self.session(request) or self.sessions.new()
        url = await self.sign_in.begin(session, request.query_params.get("next", "/queue"))
        return self.set_cookie(RedirectResponse(url, status_code=303), session)

    async def callback(self, request: Request) -> Response:
        session = self.session(request)
        if request.query_params.get("error"):
            return self.message(request, None, "Вход отменён поставщиком удостоверений.", 401)
        if session is None:
            return self.message(request, None, "Сеанс входа истёк. Войдите снова.", 400)
        try:
            target = await self.sign_in.complete(
                session, request.query_params.get("code"), request.query_params.get("state")
            )
        except SignInFailed as exc:
            log.warning("sign-in refused: %s", exc)
            return self.message(request, None, "Вход не удался. Попробуйте войти снова.", 400)
        return self.set_cookie(RedirectResponse(target, status_code=303), session)

    async def logout(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return RedirectResponse("/auth/signed-out", status_code=303)
        if await self.checked_form(request, session) is None:
            return self.message(request, session, CSRF_REFUSAL, 403)
        url = await self.sign_in.sign_out(session)
        response = RedirectResponse(url, status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    async def signed_out(self, request: Request) -> Response:
        return self.render(request, "signed_out.html", {"session": None})

    # -- work -----------------------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        session = self.session(request)
        if session is None or session.person is None:
            return self.to_sign_in(request)
        token = await self.token_or_none(session)
        if token is None:
            return self.to_sign_in(request)
        params = request.query_params
        try:
            view = QueueView(params.get("view", QueueView.MINE.value))
        except ValueError:
            return self.message(request, session, "Такой очереди нет.", 404)
        query = QueueQuery(
            status=params.get("status", ""),
            channel=params.get("channel", ""),
            queue=params.get("queue", ""),
            page_token=params.get("page", ""),
        )
        try:
            page = await self.work.queue(token, session.person, view, query)
        except Refused as refusal:
            return self.refusal(request, session, refusal)
        now = datetime.now(UTC)
        rows = [(row, time_left(row.registered_at, row.due, now)) for row in page.rows]
        return self.render(
            request,
            "queue.html",
            {
                "session": session,
                "view": view,
                "views": QUEUE_VIEW_LABELS,
                "rows": rows,
                "query": query,
                "next_page": page.next_page_token,
                "statuses": STATUS_LABELS,
                "channels": CHANNEL_LABELS,
                "filters": {k: v for k, v in params.items() if k != "page"},
                "query_string": _query,
            },
        )

    async def case(self, request: Request) -> Response:
        session = self.session(request)
        if session is None or session.person is None:
            return self.to_sign_in(request)
        token = await self.token_or_none(session)
        if token is None:
            return self.to_sign_in(request)
        reveal = request.query_params.get("reveal") == "1"
        case_id = request.path_params["case_id"]
        try:
            page = await self.work.case_page(token, case_id, reveal)
        except Refused as refusal:
            return self.refusal(request, session, refusal)
        now = datetime.now(UTC)
        chosen = next((c for c in self.canned if c.key == request.query_params.get("canned")), None)
        return self.render(
            request,
            "case.html",
            {
                "session": session,
                "case": page.case,
                "history": page.history,
                "last_version": max([page.case.version, *(i.version for i in page.history)]),
                "canned": self.canned,
                "reply_text": chosen.text if chosen else "",
                "escalation_tiers": [
                    t for t in ("L2", "L3") if TIER_RANK[t] > TIER_RANK.get(page.case.tier, 0)
                ],
                "escalation_reasons": [(r, ESCALATION_REASONS[r]) for r in DESK_ESCALATION_REASONS],
                "supervisor": SUPERVISOR_ROLE in session.person.roles,
                "card": card(page.case.citizen, reveal),
                "revealed": reveal,
                "left": time_left(page.case.registered_at, page.case.due, now),
                "done": request.query_params.get("done", ""),
            },
        )

    async def act(self, request: Request) -> Response:
        session = self.session(request)
        if session is None or session.person is None:
            return self.message(request, None, "Сеанс завершён. Войдите снова.", 401)
        fields = await self.checked_form(request, session)
        if fields is None:
            return self.message(request, session, CSRF_REFUSAL, 403)
        token = await self.token_or_none(session)
        if token is None:
            return self.message(request, None, "Сеанс завершён. Войдите снова.", 401)
        case_id, action = request.path_params["case_id"], request.path_params["action"]
        if action not in CASE_ACTIONS:
            return self.message(request, session, "Такого действия нет.", 404)
        try:
            if action == "escalate":
                done = await self.work.escalate(
                    token,
                    case_id,
                    fields.get("to_tier", ""),
                    fields.get("reason", ""),
                    fields.get("text", ""),
                )
            elif action == "assign":
                done = await self.work.reassign(token, case_id, fields.get("specialist_id", ""))
            else:
                done = await self.work.act(token, case_id, action, fields.get("text", ""))
        except Refused as refusal:
            return self.refusal(request, session, refusal)
        return RedirectResponse(f"/cases/{case_id}?{_query(done=done)}", status_code=303)

    async def live_case(self, request: Request) -> Response:
        """The case page's event stream (text/event-stream): one `change` event per case event,
        `end` when the feed ends. Without a session: 204, which tells EventSource not to
        reconnect."""
        session = self.session(request)
        if session is None or session.person is None:
            return Response(status_code=204, headers=SECURITY_HEADERS)
        case_id = request.path_params["case_id"]
        # After a dropped connection EventSource sends the last `id:` it saw.
        after = max(
            _version(request.query_params.get("after")),
            _version(request.headers.get("last-event-id")),
        )
        changes = self.live.follow(session.session_id, case_id, after)
        return StreamingResponse(
            self._events(changes),
            media_type="text/event-stream",
            headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"},
        )

    async def _events(self, changes: AsyncIterator[CaseChange | None]) -> AsyncIterator[str]:
        yield "retry: 5000\n\n"
        item_template = self.templates.get_template("_history_item.html")
        async for change in changes:
            if change is None:
                yield ": ещё здесь\n\n"
                continue
            payload = {
                "version": change.item.version,
                "html": item_template.render(item=change.item),
                "status": status_label(change.status) if change.status else None,
                "assignee": None if change.assignee is None else change.assignee or "—",
                "tier": change.tier,
            }
            data = json.dumps(payload, ensure_ascii=False)
            yield f"id: {change.item.version}\nevent: change\ndata: {data}\n\n"
        yield "event: end\ndata: \n\n"

    def refusal(self, request: Request, session: Session, refusal: Refused) -> Response:
        if refusal.kind is RefusalKind.SIGNED_OUT:
            self.sessions.end(session.session_id)
            return self.to_sign_in(request)
        if refusal.kind is RefusalKind.UNAVAILABLE:
            log.warning("case service unavailable: %s", refusal.detail)
        return self.message(request, session, refusal.message, refusal.kind.value)


CSRF_REFUSAL = (
    "Запрос отклонён: форма отправлена без действительного токена защиты (CSRF). "
    "Обновите страницу и повторите действие."
)


def _query(**params: str) -> str:
    return urlencode(params)


def _version(value: str | None) -> int:
    """A case version from the query or Last-Event-ID; anything else counts as 0 (from the
    start: the page ignores lines it already shows)."""
    if value is None or not value.isdigit() or len(value) > 18:
        return 0
    return int(value)


def build_app(desk: Desk) -> Starlette:
    async def root(request: Request) -> Response:
        return RedirectResponse("/queue", status_code=303)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/", root),
        Route("/healthz", health),
        Route("/auth/login", desk.login),
        Route("/auth/callback", desk.callback),
        Route("/auth/logout", desk.logout, methods=["POST"]),
        Route("/auth/signed-out", desk.signed_out),
        Route("/queue", desk.queue),
        Route("/cases/{case_id}", desk.case),
        Route("/cases/{case_id}/live", desk.live_case),
        Route("/cases/{case_id}/{action}", desk.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes)
