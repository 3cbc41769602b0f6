"""`python -m casedesk_desk`: serve the specialists' workspace over HTTP until SIGTERM.

The composition root: the only module that chooses implementations (the identity provider by
discovery, the case service over mutual TLS) and wires adapters, use cases and the web layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette

from casedesk_desk.adapters.attachment_vault import IntakeAttachmentVault
from casedesk_desk.adapters.canned_replies import CannedRepliesError, load_canned_replies
from casedesk_desk.adapters.case_service import CaseService
from casedesk_desk.adapters.keycloak import OidcProvider
from casedesk_desk.application.attachments import Attachments
from casedesk_desk.application.live import LiveCase
from casedesk_desk.application.live_queue import LiveQueue
from casedesk_desk.application.presence import PresenceBoard
from casedesk_desk.application.signin import SignIn, SignInRoutes
from casedesk_desk.application.streams import Follower
from casedesk_desk.application.work import Work
from casedesk_desk.domain.presence import Presence
from casedesk_desk.domain.sessions import SessionStore
from casedesk_desk.settings import DeskSettings
from casedesk_desk.web.app import Desk, Live
from casedesk_desk.web.routes import build_app
from casedesk_runtime.grpc_client import channel_for
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.metrics_endpoint import start_metrics_endpoint
from casedesk_runtime.oidc import TokenVerifier
from casedesk_runtime.oidc.fetch import tls_context
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry

log = get_logger(__name__)

# A case page's presence lasts this many heartbeats without one (a stream stuck on a dead
# connection); a closed tab leaves at once, when its connection closes.
PRESENCE_HEARTBEATS = 3


@dataclass(frozen=True)
class Composed:
    app: Starlette
    sessions: SessionStore  # the bench signs its specialist in here, bypassing the provider


def compose(settings: DeskSettings) -> Starlette:
    return compose_parts(settings).app


def compose_parts(settings: DeskSettings) -> Composed:
    issuer = settings.oidc_issuer
    if not issuer:
        raise SettingsError(
            "the desk signs specialists in: set CASEDESK_OIDC_ISSUER and CASEDESK_OIDC_AUDIENCE"
        )
    try:
        canned = load_canned_replies(settings.desk_canned_replies_file)
    except CannedRepliesError as exc:
        raise SettingsError(str(exc)) from None
    access_tokens = settings.person_token_verifier()
    id_tokens = TokenVerifier(
        issuer,
        settings.desk_client_id,
        jwks_url=settings.oidc_jwks_url,
        ca_file=settings.oidc_ca_file,
        leeway_s=settings.oidc_leeway_s,
    )
    tls = tls_context(settings.oidc_ca_file) if settings.oidc_ca_file else True
    http = httpx.AsyncClient(timeout=10.0, verify=tls, trust_env=False)
    channel = channel_for(settings, settings.case_address, server_name=settings.case_server_name)
    intake_channel = channel_for(
        settings, settings.intake_address, server_name=settings.intake_server_name
    )
    sessions = SessionStore(idle_s=settings.desk_session_idle_s)
    sign_in = SignIn(
        sessions,
        OidcProvider(issuer, settings.desk_client_id, http),
        id_tokens,
        access_tokens,
        SignInRoutes(
            callback_url=f"{settings.desk_public_url}/auth/callback",
            signed_out_url=f"{settings.desk_public_url}/auth/signed-out",
        ),
    )
    cases = CaseService(channel, settings.case_service_timeout_s)
    follower = Follower(sign_in, sessions, settings.desk_live_check_s)
    board = PresenceBoard(Presence(ttl_s=PRESENCE_HEARTBEATS * settings.desk_live_check_s))
    live = Live(LiveCase(cases, follower, board), LiveQueue(cases, follower), board)
    vault = IntakeAttachmentVault(intake_channel, settings.intake_timeout_s)
    desk = Desk(
        sessions,
        sign_in,
        Work(cases),
        settings.cookie_secure,
        live=live,
        attachments=Attachments(vault),
        canned=canned,
    )
    app = build_app(desk)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()
        await channel.close()
        await intake_channel.close()

    app.router.lifespan_context = lifespan
    return Composed(app, sessions)


async def serve(settings: DeskSettings) -> None:
    app = compose(settings)
    config = uvicorn.Config(
        app,
        host=settings.desk_http_host,
        port=settings.desk_http_port,
        log_config=None,
        access_log=False,  # URLs hold case ids and, at the callback, authorization codes
        proxy_headers=False,
        # Open case pages hold event streams that never finish by themselves: stop waiting for
        # them after a moment at shutdown (browsers reconnect to the next process).
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    log.info(
        "desk serving %s (listening on %s:%s), case service at %s, intake at %s",
        settings.desk_public_url,
        settings.desk_http_host,
        settings.desk_http_port,
        settings.case_address,
        settings.intake_address,
    )
    # /metrics on a port of its own (CASEDESK_METRICS_PORT), as every service serves it: the
    # desk's requests, sign-ins and live feeds (web/metrics.py), its gRPC calls (the runtime's).
    metrics = start_metrics_endpoint(settings)
    try:
        await server.serve()
    finally:
        if metrics is not None:
            metrics.close()


def main() -> None:
    try:
        settings = load_settings(DeskSettings)
        configure_logging(settings.service_name, settings.log_level)
        telemetry = configure_telemetry(settings.service_name, settings=settings)
        try:
            asyncio.run(serve(settings))
        finally:
            telemetry.shutdown()
    except SettingsError as exc:
        print(f"desk: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
