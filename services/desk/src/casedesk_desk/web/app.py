"""What every page of the desk shares: the session, CSRF, refusals, templates; sign-in and out.

Every POST carries the session's CSRF token (refused with 403 without it); the session cookie is
HttpOnly, SameSite=Lax and Secure when configured; pages are never cached. The pages themselves:
web/queue.py, web/cases.py, web/supervisor.py; the routes: web/routes.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from casedesk_desk.application.attachments import Attachments
from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.live_queue import LiveQueue
from casedesk_desk.application.presence import PresenceBoard
from casedesk_desk.application.signin import SignIn
from casedesk_desk.application.work import Work
from casedesk_desk.domain.attachments import readable_size
from casedesk_desk.domain.canned import CannedReply
from casedesk_desk.domain.errors import RefusalKind, Refused, SignInFailed
from casedesk_desk.domain.presence import Viewer
from casedesk_desk.domain.security import same_secret
from casedesk_desk.domain.sessions import Person, Session, SessionStore
from casedesk_desk.domain.words import CATEGORY_LABELS, CHANNEL_LABELS, status_label
from casedesk_desk.web import metrics
from casedesk_desk.web.present import moscow
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
SUPERVISOR_ROLE = "supervisor"
CSRF_REFUSAL = (
    "Запрос отклонён: форма отправлена без действительного токена защиты (CSRF). "
    "Обновите страницу и повторите действие."
)


@dataclass(frozen=True)
class Live:
    """The desk's live parts: case pages' and queue pages' feeds, and who has which case open."""

    case: LiveCase
    queue: LiveQueue
    board: PresenceBoard


class Desk:
    def __init__(
        self,
        sessions: SessionStore,
        sign_in: SignIn,
        work: Work,
        cookie_secure: bool,
        *,
        live: Live,
        attachments: Attachments,
        canned: Sequence[CannedReply] = (),
    ) -> None:
        self.sessions, self.sign_in, self.work = sessions, sign_in, work
        self.cookie_secure = cookie_secure
        self.live, self.attachments, self.canned = live, attachments, list(canned)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(
            status_label=status_label,
            channel_label=lambda c: CHANNEL_LABELS.get(c, c),
            category_label=lambda c: CATEGORY_LABELS.get(c, c),
            moscow=moscow,
            is_supervisor=is_supervisor,
            readable_size=readable_size,
        )
        # One path segment, slashes included (Jinja's urlencode leaves "/" as it is).
        self.templates.env.filters["segment"] = lambda value: quote(str(value), safe="")

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
        response = RedirectResponse(f"/auth/login?{query(next=target)}", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    async def signed_in(self, request: Request) -> tuple[Session, Person, str] | Response:
        """The session, its person and a fresh access token; or the way to sign-in."""
        session = self.session(request)
        if session is None or session.person is None:
            return self.to_sign_in(request)
        token = await self.token_or_none(session)
        if token is None:
            return self.to_sign_in(request)
        return session, session.person, token

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

    def refusal(self, request: Request, session: Session, refusal: Refused) -> Response:
        if refusal.kind is RefusalKind.SIGNED_OUT:
            self.sessions.end(session.session_id)
            return self.to_sign_in(request)
        if refusal.kind is RefusalKind.UNAVAILABLE:
            log.warning("a service the desk needs is unavailable: %s", refusal.detail)
        return self.message(request, session, refusal.message, refusal.kind.value)

    # -- sign-in -------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        session = self.session(request) or self.sessions.new()
        url = await self.sign_in.begin(session, request.query_params.get("next", "/queue"))
        return self.set_cookie(RedirectResponse(url, status_code=303), session)

    async def callback(self, request: Request) -> Response:
        session = self.session(request)
        if request.query_params.get("error"):
            metrics.sign_in_refused("cancelled")
            return self.message(request, None, "Вход отменён поставщиком удостоверений.", 401)
        if session is None:
            metrics.sign_in_refused("no_session")
            return self.message(request, None, "Сеанс входа истёк. Войдите снова.", 400)
        try:
            target = await self.sign_in.complete(
                session, request.query_params.get("code"), request.query_params.get("state")
            )
        except SignInFailed as exc:
            log.warning("sign-in refused: %s", exc)
            metrics.sign_in_refused(exc.reason)
            return self.message(request, None, "Вход не удался. Попробуйте войти снова.", 400)
        metrics.signed_in()
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


def is_supervisor(person: Person | None) -> bool:
    """Whether the menu offers the overview (the case service decides who may read it)."""
    return person is not None and SUPERVISOR_ROLE in person.roles


def viewer(person: Person) -> Viewer:
    return Viewer(person.username, person.display_name, person.tier)


def query(**params: str) -> str:
    return urlencode(params)
