"""The desk's own Prometheus series (README, "Metrics"): requests, their duration, open live feeds
and sign-in outcomes. OpenTelemetry instruments, read at /metrics like the services' (the runtime's
metrics_endpoint); the desk's calls to the case service and intake are counted by the runtime's
gRPC client interceptors (`casedesk_grpc_client_handled_total`).

Labels are bounded and never personal data: a request is labelled with its route's *template*
(`/cases/{case_id}`, never the case id in the path, nor a login or search in the query), a path
that matches no route with `unmatched`, a method outside GET/POST/HEAD with `other`, a status with
its class (`2xx` ... `5xx`). A live feed (server-sent events) lasts as long as its page is open:
it is counted while open, and its requests counted when they end, but never timed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casedesk_runtime.metrics_endpoint import LATENCY_BUCKETS_S
from casedesk_runtime.telemetry import meter

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "POST", "HEAD"})
LIVE_SUFFIX = "/live"

_meter = meter(__name__)
_requests = _meter.create_counter(
    "casedesk.desk.http.requests",
    unit="{request}",
    description="HTTP requests the desk answered, by route template, method and status class",
)
_duration = _meter.create_histogram(
    "casedesk.desk.http.duration",
    unit="s",
    description="Time to answer an HTTP request (live feeds excluded), by route template",
    explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S,
)
_live = _meter.create_up_down_counter(
    "casedesk.desk.live.streams",
    unit="{stream}",
    description="Live feeds (server-sent events) open now, by route template",
)
_signins = _meter.create_counter(
    "casedesk.desk.signins",
    unit="{sign-in}",
    description="Returns from the identity provider, by outcome and (refused) reason",
)


def signed_in() -> None:
    _signins.add(1, {"outcome": "success"})


def sign_in_refused(reason: str) -> None:
    """`reason`: a SignInFailed's, or the callback's own (`cancelled`, `no_session`)."""
    _signins.add(1, {"outcome": "refused", "reason": reason})


class RequestMetrics:
    """ASGI middleware counting and timing each HTTP request by the template of its route."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app, self.routes = app, list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.template(scope)
        method = scope["method"] if scope["method"] in METHODS else "other"
        live = route.endswith(LIVE_SUFFIX)
        status = 500  # what the server answers when the app raises before it starts a response

        async def measured_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        if live:
            _live.add(1, {"route": route})
        try:
            await self.app(scope, receive, measured_send)
        finally:
            if live:
                _live.add(-1, {"route": route})
            else:
                _duration.record(time.perf_counter() - started, {"route": route, "method": method})
            _requests.add(
                1, {"route": route, "method": method, "status_class": f"{status // 100}xx"}
            )

    def template(self, scope: Scope) -> str:
        """The route's path template as the router would pick it (a full match first, then one
        refused only for its method); `unmatched` for any other path."""
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return _template(route)
            if match is Match.PARTIAL and partial is None:
                partial = route
        return _template(partial) if partial is not None else UNMATCHED


def _template(route: BaseRoute) -> str:
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    return str(getattr(route, "path", UNMATCHED))
