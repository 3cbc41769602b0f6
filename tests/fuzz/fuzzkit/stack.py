"""The case service, intake (with its attachment vault) and the key service as they run,
in-process, over TLS.

Each is assembled the way its composition root does it (case: the application on SQLite, its
index projector, WatchCase feed, command pipeline and case timeline; intake: `assembled` and
`intake_server`; keys: `compose`, its key store and erasure journal in one SQLite file and the
Secret-file KEK provider in the workdir: no HSM), each with mutual TLS and its own access table,
and intake calls the case service over mutual TLS as `intake`, as in production. Person and
citizen tokens come from two fake identity providers (the staff's realm, whose tokens all three
services accept, and the portal's).

The servers run on an event loop of their own in a thread, so that a hypothesis test, which is
synchronous, drives them with `stack.run(coroutine, timeout)`: a handler that blocks the loop
shows as a timeout of that call, not as a stuck test run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk.case.v1 import case_service_pb2_grpc
from casedesk_case.adapters.person_tokens import OidcPersonTokens
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.adapters.timeline import case_timeline
from casedesk_case.adapters.watch_feed import CaseEventFeed
from casedesk_case.application.pipeline import CommandPipeline
from casedesk_case.grpc_api.access import CASE_ACCESS
from casedesk_case.grpc_api.people import People
from casedesk_case.grpc_api.servicer import CaseServicer
from casedesk_case.settings import CaseSettings
from casedesk_case.testing import CaseApplication
from casedesk_intake.__main__ import assembled, intake_server
from casedesk_intake.settings import FrontendEntry, IntakeSettings
from casedesk_keys.settings import KeysSettings
from casedesk_keyservice.__main__ import compose as compose_key_service
from casedesk_keyservice.settings import KeyServiceSettings
from casedesk_runtime import pki
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider

T = TypeVar("T")
CASE_SERVICE = "casedesk.case.v1.CaseService"
KEY_SERVICE = "casedesk.keys.v1.KeyService"
IDENTITIES = (
    "case", "intake", "escalation", "desk", "operator", "frontend", "sla", "notify", "keys"
)  # fmt: skip
STAFF_AUDIENCES = ["casedesk-case", "casedesk-intake"]
PORTAL_AUDIENCE = "casedesk-intake"
PORTAL_CLIENT = "casedesk-portal-frontend"
CHANNELS = ["PORTAL_CHAT", "PERSONAL_ACCOUNT", "EMAIL", "PHONE", "SOCIAL", "MFC"]
# Frontend tokens intake knows (hash configured, token sent as `authorization: Bearer ...`).
FRONTEND_TOKENS = {
    "desk-all": ("fuzz-all-token-0123456789", CHANNELS),
    "mail-gateway": ("fuzz-mail-token-0123456789", ["EMAIL"]),
    "contact-centre": ("fuzz-phone-token-0123456789", ["PHONE"]),
}


class LoopErrors(logging.Handler):
    """ERROR records with a traceback (a servicer's `log.exception`): the server-side view of
    a call that failed unexpectedly, kept for the report."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)

    def take(self, since: int) -> list[str]:
        """The records logged since there were `since`, as text (error type first); they are
        accounted for from now on (the health check looks only at what nobody took)."""
        taken = self.records[since:]
        del self.records[since:]
        return [
            f"{r.exc_info[0].__name__ if r.exc_info and r.exc_info[0] else '?'}: {r.getMessage()}"
            for r in taken
        ]


@dataclass
class Stack:
    workdir: Path
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    staff: FakeIdentityProvider | None = None
    portal: FakeIdentityProvider | None = None
    case_port: int = 0
    intake_port: int = 0
    keys_port: int = 0
    loop_errors: list[dict[str, Any]] = field(default_factory=list)
    # The longest the servers' loop was kept from running anything else since `reset_lag`.
    max_loop_block_s: float = 0.0
    logged: LoopErrors = field(default_factory=LoopErrors)
    _channels: dict[tuple[str, str | None], grpc.aio.Channel] = field(default_factory=dict)
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _failure: list[BaseException] = field(default_factory=list)

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> Stack:
        self.staff = FakeIdentityProvider(realm="casedesk", audience="casedesk-case").start()
        self.portal = FakeIdentityProvider(realm="portal", audience=PORTAL_AUDIENCE).start()
        pki.ensure_pki(self.workdir / "pki", list(IDENTITIES))
        logging.getLogger().addHandler(self.logged)
        self._thread = threading.Thread(target=self._serve, name="fuzz-servers", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._failure:
            raise self._failure[0]
        if not self._ready.is_set():
            raise TimeoutError("the servers did not start within 60 s")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(60)
        logging.getLogger().removeHandler(self.logged)
        for provider in (self.staff, self.portal):
            if provider is not None:
                provider.stop()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coroutine` on the servers' loop; TimeoutError when it takes over `timeout`."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as failure:  # reported to start() by _ready
            self._failure.append(failure)
            self._ready.set()
        finally:
            self.loop.close()

    def reset_lag(self) -> None:
        self.max_loop_block_s = 0.0

    async def _watch_loop(self) -> None:
        """Wake every 20 ms; waking late means something held the loop (a handler's work)."""
        while True:
            before = self.loop.time()
            await asyncio.sleep(0.02)
            self.max_loop_block_s = max(self.max_loop_block_s, self.loop.time() - before - 0.02)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        watcher = asyncio.create_task(self._watch_loop())
        async with self._case_service() as case_port:
            self.case_port = case_port
            async with self._intake(case_port) as intake_port:
                self.intake_port = intake_port
                async with self._key_service() as keys_port:
                    self.keys_port = keys_port
                    self._ready.set()
                    await self._stop.wait()
                    watcher.cancel()
                    for channel in self._channels.values():
                        await channel.close()

    # --- the case service -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _case_service(self) -> AsyncIterator[int]:
        assert self.staff is not None
        settings = CaseSettings(
            grpc_port=0,
            shutdown_grace_s=0.0,
            oidc_issuer=self.staff.issuer,
            oidc_audience="casedesk-case",
            **self._tls("case"),
        )
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(self.workdir / "cases.db"),
        }
        app = CaseApplication(env=env)
        executor = ThreadPoolExecutor(4, thread_name_prefix="fuzz-case-command")
        feed = CaseEventFeed(app, idle_s=0.05)
        projector = CaseIndexProjector(app, app.index)
        app.on_recorded(feed.ring)
        app.on_recorded(projector.bell.ring)
        pipeline = CommandPipeline(app, executor)
        servicer = CaseServicer(
            app,
            executor,
            feed,
            pipeline,
            People(OidcPersonTokens(settings.person_token_verifier())),
            case_timeline=case_timeline(app.factory),
        )
        binding = (case_service_pb2_grpc.add_CaseServiceServicer_to_server, servicer, CASE_SERVICE)
        server = GrpcServer(settings, [binding], access=CASE_ACCESS)
        port = await server.start()
        followers = [asyncio.create_task(feed.run()), asyncio.create_task(projector.run(0.05))]
        try:
            yield port
        finally:
            await server.stop(0)
            feed.bell.close()
            projector.bell.close()
            await asyncio.gather(*followers, return_exceptions=True)
            await asyncio.to_thread(pipeline.stop)
            executor.shutdown()
            app.close()

    # --- intake -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _intake(self, case_port: int) -> AsyncIterator[int]:
        assert self.staff is not None and self.portal is not None
        settings = IntakeSettings(
            grpc_port=0,
            data_dir=self.workdir / "intake",
            master_key=base64.b64encode(os.urandom(32)).decode(),
            frontends=[
                FrontendEntry(
                    name=name,
                    token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                    channels=channels,
                )
                for name, (token, channels) in FRONTEND_TOKENS.items()
            ],
            case_address=f"127.0.0.1:{case_port}",
            # Rates out of the way: the fuzzer is one busy frontend, not what is being tested.
            citizen_rate_per_s=10_000.0,
            citizen_burst=10_000.0,
            shutdown_grace_s=0.0,
            citizen_oidc_issuer=self.portal.issuer,
            citizen_oidc_audience=PORTAL_AUDIENCE,
            oidc_issuer=self.staff.issuer,
            oidc_audience="casedesk-intake",
            **self._tls("intake"),
        )
        (self.workdir / "intake").mkdir(exist_ok=True)
        async with assembled(settings) as parts:
            server = intake_server(settings, parts)
            port = await server.start()
            try:
                yield port
            finally:
                await server.stop(0)

    # --- the key service -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _key_service(self) -> AsyncIterator[int]:
        assert self.staff is not None
        folder = self.workdir / "keys"
        (folder / "kek").mkdir(parents=True, exist_ok=True)
        index_key = folder / "index.key"
        index_key.write_text(base64.b64encode(os.urandom(32)).decode())
        keys = KeysSettings(
            kek_provider="secret-file",
            kek_dir=folder / "kek",
            kek_create=True,  # the first KEK version, as a development Secret would hold it
            store_url=str(folder / "keys.sqlite"),
            index_key_file=index_key,
        )
        settings = KeyServiceSettings(
            grpc_port=0,
            shutdown_grace_s=0.0,
            oidc_issuer=self.staff.issuer,
            oidc_audience="casedesk-case",  # the staff tokens' audience (the development realm)
            **self._tls("keys"),
        )
        process = await compose_key_service(settings, keys)
        port = await process.start()
        try:
            yield port
        finally:
            await process.stop(0)

    def _tls(self, identity: str) -> dict[str, str]:
        folder = self.workdir / "pki"
        return {
            "tls_cert_file": str(folder / f"{identity}.crt"),
            "tls_key_file": str(folder / f"{identity}.key"),
            "tls_ca_file": str(folder / pki.CA_CERT),
        }

    # --- clients ------------------------------------------------------------------------------

    def port_of(self, service: str) -> int:
        if service == KEY_SERVICE:
            return self.keys_port
        return self.case_port if service == CASE_SERVICE else self.intake_port

    def channel(self, port: int, identity: str | None) -> grpc.aio.Channel:
        """A channel presenting `identity`'s certificate (None: no client certificate); call
        on the servers' loop. One per (server, identity), kept for the whole run."""
        key = (str(port), identity)
        if key not in self._channels:
            folder = self.workdir / "pki"
            credentials = grpc.ssl_channel_credentials(
                root_certificates=(folder / pki.CA_CERT).read_bytes(),
                private_key=(folder / f"{identity}.key").read_bytes() if identity else None,
                certificate_chain=(folder / f"{identity}.crt").read_bytes() if identity else None,
            )
            # No send limit on the client: the server's receive limit is what is tested.
            options = [("grpc.max_send_message_length", -1),
                       ("grpc.max_receive_message_length", -1)]  # fmt: skip
            self._channels[key] = grpc.aio.secure_channel(
                f"127.0.0.1:{port}", credentials, options=options
            )
        return self._channels[key]

    # --- tokens -------------------------------------------------------------------------------

    def person_token(self, username: str, tier: str, roles: list[str]) -> str:
        assert self.staff is not None
        return self.staff.mint(
            username=username,
            name=username,
            tier=tier,
            roles=roles,
            audience=STAFF_AUDIENCES,
            expires_in=3600,
        )

    def citizen_token(self, login: str) -> str:
        assert self.portal is not None
        return self.portal.mint_citizen(login, expires_in=3600, extra={"azp": PORTAL_CLIENT})

    async def healthy(self, port: int) -> bool:
        """The standard health check (any identity may ask) says SERVING."""
        stub = health_pb2_grpc.HealthStub(self.channel(port, "operator"))
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        return reply.status == health_pb2.HealthCheckResponse.SERVING
