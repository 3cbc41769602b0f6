"""The desk's routes (see the README)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from casedesk_desk.web.app import HERE, Desk
from casedesk_desk.web.callbacks import CallbackPages
from casedesk_desk.web.cases import CasePages
from casedesk_desk.web.citizen_search import CitizenSearchPage
from casedesk_desk.web.metrics import RequestMetrics
from casedesk_desk.web.queue import QueuePages
from casedesk_desk.web.supervisor import SupervisorPage


def build_app(desk: Desk) -> Starlette:
    cases, queues, supervisor = CasePages(desk), QueuePages(desk), SupervisorPage(desk)
    callbacks, citizens = CallbackPages(desk), CitizenSearchPage(desk)

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
        Route("/queue", queues.page),
        Route("/queue/live", queues.live),
        Route("/queue/citizen", citizens.form, methods=["GET"]),
        Route("/queue/citizen", citizens.search, methods=["POST"]),
        Route("/callbacks", callbacks.page),
        Route("/callbacks/live", callbacks.live),
        Route("/supervisor", supervisor.page),
        Route("/cases/{case_id}", cases.page),
        Route("/cases/{case_id}/live", cases.live),
        Route("/cases/{case_id}/attachments/{attachment_id}", cases.attachment),
        Route("/cases/{case_id}/{action}", cases.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    # Every request counted and timed by its route's template (web/metrics.py): the middleware
    # matches the same routes as the router, before it, so a path's ids never reach a label.
    return Starlette(routes=routes, middleware=[Middleware(RequestMetrics, routes=routes)])
